/**
 * NTLM negotiate flags (MS-NLMP §2.2.2.5) and the flags a server answers with in its CHALLENGE.
 * The bit names follow the specification (NTLMSSP_ prefix dropped) so log lines can be compared with Wireshark's.
 */

export const NtlmFlag = {
  NEGOTIATE_UNICODE: 0x00000001,
  NEGOTIATE_OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NEGOTIATE_SIGN: 0x00000010,
  NEGOTIATE_SEAL: 0x00000020,
  NEGOTIATE_DATAGRAM: 0x00000040,
  NEGOTIATE_LM_KEY: 0x00000080,
  NEGOTIATE_NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  NEGOTIATE_OEM_DOMAIN_SUPPLIED: 0x00001000,
  NEGOTIATE_OEM_WORKSTATION_SUPPLIED: 0x00002000,
  NEGOTIATE_ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  NEGOTIATE_EXTENDED_SESSIONSECURITY: 0x00080000,
  NEGOTIATE_IDENTIFY: 0x00100000,
  REQUEST_NON_NT_SESSION_KEY: 0x00400000,
  NEGOTIATE_TARGET_INFO: 0x00800000,
  NEGOTIATE_VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  NEGOTIATE_KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000,
} as const;

export type NtlmFlagName = keyof typeof NtlmFlag;

/** True when every bit of `flag` is set. `>>> 0` keeps bit 31 (NEGOTIATE_56) positive in JavaScript's int32 logic. */
export function hasFlag(flags: number, flag: number): boolean {
  return ((flags & flag) >>> 0) === flag >>> 0;
}

/** The names of the set bits, for log lines; unknown bits appear as hex so nothing is hidden. */
export function flagNames(flags: number): string[] {
  const names: string[] = [];
  let known = 0;
  for (const [name, bit] of Object.entries(NtlmFlag)) {
    known |= bit;
    if (hasFlag(flags, bit)) names.push(name);
  }
  const unknown = (flags & ~known) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16).padStart(8, '0')}`);
  return names;
}

/**
 * Options for the answer. NTLMv1 with the LM session key is refused by Persona (issue 4), so the only value is
 * `false`: the type keeps a caller from turning it on before the verifier supports it.
 */
export interface ResponseFlagOptions {
  readonly allowLmKey: false;
}

/** Echoed when the client asks for them: session-security capabilities Persona need not use but must not refuse. */
const ECHOED =
  NtlmFlag.NEGOTIATE_128 | NtlmFlag.NEGOTIATE_56 | NtlmFlag.NEGOTIATE_KEY_EXCH | NtlmFlag.NEGOTIATE_SIGN | NtlmFlag.NEGOTIATE_SEAL;

/**
 * The flags of the CHALLENGE (MS-NLMP §3.2.5.1.1), shaped like a Windows server's answer:
 * - UNICODE when the client offers it (preferred over OEM), else OEM — exactly one character set is chosen;
 * - NTLM, REQUEST_TARGET (we send a TargetName), TARGET_TYPE_SERVER (a stand-alone server's local accounts),
 *   TARGET_INFO (NTLMv2 needs the AV pairs), ALWAYS_SIGN and VERSION (we send a Version) always;
 * - EXTENDED_SESSIONSECURITY always: with it an NTLMv1 client cannot fall back to the LM session key, and NTLMv2
 *   clients ignore it; LM_KEY is therefore never answered (the spec says ESS wins when both are asked);
 * - 128, 56, KEY_EXCH, SIGN, SEAL echoed when asked, as Windows does, so clients that insist on them still proceed.
 */
export function negotiateResponseFlags(clientFlags: number, options: ResponseFlagOptions): number {
  void options.allowLmKey; // always false today; kept in the signature so enabling NTLMv1 later is one visible change
  const charset = hasFlag(clientFlags, NtlmFlag.NEGOTIATE_UNICODE) ? NtlmFlag.NEGOTIATE_UNICODE : NtlmFlag.NEGOTIATE_OEM;
  const always =
    NtlmFlag.NEGOTIATE_NTLM |
    NtlmFlag.REQUEST_TARGET |
    NtlmFlag.TARGET_TYPE_SERVER |
    NtlmFlag.NEGOTIATE_TARGET_INFO |
    NtlmFlag.NEGOTIATE_ALWAYS_SIGN |
    NtlmFlag.NEGOTIATE_VERSION |
    NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY;
  return (charset | always | (clientFlags & ECHOED)) >>> 0;
}
