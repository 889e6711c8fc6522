/** The last `size` numbers of a stream, oldest first on read (a ring buffer). */
export class ValueWindow {
  private readonly buf: Float64Array;
  private next = 0;
  length = 0;

  constructor(readonly size: number) {
    this.buf = new Float64Array(size);
  }

  get full(): boolean {
    return this.length === this.size;
  }

  push(v: number): void {
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.size;
    if (this.length < this.size) this.length++;
  }

  /** A copy of the values, oldest first. */
  values(): Float64Array {
    const out = new Float64Array(this.length);
    const start = (this.next - this.length + this.size) % this.size;
    for (let i = 0; i < this.length; i++) out[i] = this.buf[(start + i) % this.size]!;
    return out;
  }

  clear(): void {
    this.next = 0;
    this.length = 0;
  }
}

/** Collects the first `size` values of a stream (a monitor's reference). */
export class ReferenceBuffer {
  private readonly buf: number[] = [];
  constructor(readonly size: number) {}

  get ready(): boolean {
    return this.buf.length >= this.size;
  }

  /** Adds a value while still collecting; returns true once the reference is complete. */
  add(v: number): boolean {
    if (this.buf.length < this.size) this.buf.push(v);
    return this.ready;
  }

  values(): Float64Array {
    return Float64Array.from(this.buf);
  }

  set(values: ArrayLike<number>): void {
    this.buf.length = 0;
    for (let i = 0; i < values.length; i++) this.buf.push(values[i]!);
  }

  clear(): void {
    this.buf.length = 0;
  }
}
