/**
 * util-linux setpriv: how the launcher starts a worker (and its forker) with exactly the uid, gid, groups and
 * capabilities it should have. Processes for requests are started by the forker (native/persona-forker.c).
 */
export const SETPRIV = '/usr/bin/setpriv';
