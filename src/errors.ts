// User-facing errors: thrown where bad input enters, with a message a user can act on.
// The CLI prints these without a stack trace; anything else is a bug and keeps its stack.

/** Base class of every error caused by the user's input (files, options, data). */
export class SocError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A command-line option or config value is invalid. */
export class UsageError extends SocError {}

/** A file could not be read or is not in the expected format. */
export class FileFormatError extends SocError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}
