// POSIX shell quoting for commands sent over SSH, where the remote login shell parses them.

/** Characters that mean nothing to a POSIX shell; such words need no quotes. `=` and `~` are not among them. */
const BARE_WORD = /^[A-Za-z0-9_./@%+,:-]+$/;

/** One argument, quoted so a POSIX shell passes it on byte for byte (empty becomes `''`). */
export function quoteShellArg(arg: string): string {
  if (BARE_WORD.test(arg)) return arg;
  // Inside single quotes nothing is special except the closing quote: end, emit \', reopen.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one command line for `sh -c`. */
export function quoteCommand(argv: readonly string[]): string {
  return argv.map(quoteShellArg).join(" ");
}
