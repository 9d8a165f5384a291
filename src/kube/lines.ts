// A watch stream's bytes into lines, one JSON event each. Linear: each chunk is searched
// for newlines once and a partial line is kept as a list of pieces, never re-scanned or
// re-copied as more arrives. Bounded: a line longer than `maxBytes` is a broken stream,
// reported as soon as the excess arrives, so a peer sending one endless line costs at
// most `maxBytes` of memory. Splitting bytes at 0x0a is safe in UTF-8, which never uses
// that byte inside a character, so each line is decoded whole.

export class LineTooLong extends Error {
  override name = 'LineTooLong';
}

export class Lines {
  readonly #maxBytes: number;
  #pieces: Buffer[] = [];
  #held = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The complete lines this chunk ends, in order. Throws LineTooLong past the cap. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      this.#take(chunk.subarray(from, nl));
      lines.push(this.#flush());
      from = nl + 1;
    }
    if (from < chunk.length) this.#take(chunk.subarray(from));
    return lines;
  }

  /** True while part of a line is held: more of an event is on its way. */
  get partial(): boolean {
    return this.#held > 0;
  }

  /** What is left when the stream ends: a last line without its newline, or ''. */
  end(): string {
    return this.#flush();
  }

  #take(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#held += piece.length;
    if (this.#held > this.#maxBytes) {
      this.#pieces = [];
      this.#held = 0;
      throw new LineTooLong(`watch stream sent a line longer than ${this.#maxBytes} bytes (the cap on a Pod document)`);
    }
    // A copy: the stream may reuse its chunk's memory.
    this.#pieces.push(Buffer.from(piece));
  }

  #flush(): string {
    const line = this.#pieces.length === 1 ? this.#pieces[0]!.toString('utf8') : Buffer.concat(this.#pieces, this.#held).toString('utf8');
    this.#pieces = [];
    this.#held = 0;
    return line;
  }
}
