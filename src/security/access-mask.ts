/**
 * File-system access rights as Windows defines them (winnt.h), the generic mapping for files, and the icacls
 * abbreviations. Masks are unsigned 32-bit numbers; use `>>> 0` after bitwise operations.
 */
export const FileRight = {
  READ_DATA: 0x0001, // files: read data; folders: list folder (FILE_LIST_DIRECTORY)
  WRITE_DATA: 0x0002, // folders: create files (FILE_ADD_FILE)
  APPEND_DATA: 0x0004, // folders: create folders (FILE_ADD_SUBDIRECTORY)
  READ_EA: 0x0008,
  WRITE_EA: 0x0010,
  EXECUTE: 0x0020, // folders: traverse
  DELETE_CHILD: 0x0040,
  READ_ATTRIBUTES: 0x0080,
  WRITE_ATTRIBUTES: 0x0100,
  DELETE: 0x0001_0000,
  READ_CONTROL: 0x0002_0000,
  WRITE_DAC: 0x0004_0000,
  WRITE_OWNER: 0x0008_0000,
  SYNCHRONIZE: 0x0010_0000,
} as const;

export const GenericRight = {
  ALL: 0x1000_0000,
  EXECUTE: 0x2000_0000,
  WRITE: 0x4000_0000,
  READ: 0x8000_0000,
} as const;

const R = FileRight;
export const FILE_GENERIC_READ = (R.READ_CONTROL | R.READ_DATA | R.READ_ATTRIBUTES | R.READ_EA | R.SYNCHRONIZE) >>> 0; // 0x120089
export const FILE_GENERIC_WRITE = (R.READ_CONTROL | R.WRITE_DATA | R.WRITE_ATTRIBUTES | R.WRITE_EA | R.APPEND_DATA | R.SYNCHRONIZE) >>> 0; // 0x120116
export const FILE_GENERIC_EXECUTE = (R.READ_CONTROL | R.READ_ATTRIBUTES | R.EXECUTE | R.SYNCHRONIZE) >>> 0; // 0x1200a0
export const FILE_ALL_ACCESS = 0x001f_01ff;

/** Replaces generic bits by the file rights they stand for (Windows' GENERIC_MAPPING for files). */
export function mapGeneric(mask: number): number {
  let m = mask >>> 0;
  if (m & GenericRight.READ) m |= FILE_GENERIC_READ;
  if (m & GenericRight.WRITE) m |= FILE_GENERIC_WRITE;
  if (m & GenericRight.EXECUTE) m |= FILE_GENERIC_EXECUTE;
  if (m & GenericRight.ALL) m |= FILE_ALL_ACCESS;
  return (m & ~(GenericRight.READ | GenericRight.WRITE | GenericRight.EXECUTE | GenericRight.ALL)) >>> 0;
}

/** icacls simple rights. */
export const SimpleRight = {
  F: FILE_ALL_ACCESS,
  M: (FILE_GENERIC_READ | FILE_GENERIC_WRITE | FILE_GENERIC_EXECUTE | R.DELETE) >>> 0, // 0x1301bf
  RX: (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE) >>> 0, // 0x1200a9
  R: FILE_GENERIC_READ,
  W: (FILE_GENERIC_WRITE & ~R.READ_CONTROL) >>> 0, // 0x100116
  D: R.DELETE,
} as const;

/** What Persona asks for when it reads a file for a client, and when it lists a folder. */
export const DesiredAccess = {
  readFile: FILE_GENERIC_READ,
  listFolder: (R.READ_DATA | R.SYNCHRONIZE) >>> 0,
  executeFile: FILE_GENERIC_EXECUTE,
  writeFile: FILE_GENERIC_WRITE,
} as const;
