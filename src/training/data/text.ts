// Text handling of the training pipelines (every dataset module of the reference does the same).

/** Lowercase and collapse runs of whitespace to one space, trimming the ends (`" ".join(s.lower().split())`). */
export function normaliseText(text: string): string {
  return text.toLowerCase().split(/\s+/).filter((w) => w.length > 0).join(' ');
}

/**
 * The left/right swap that goes with a horizontal flip, as the reference writes it: plain substring
 * replacement through a placeholder, `left → @`, `right → left`, `@ → right`. So "bright" becomes
 * "bleft", and a literal '@' in the text becomes "right" — kept for parity.
 */
export function swapLeftRight(text: string): string {
  return text.replaceAll('left', '@').replaceAll('right', 'left').replaceAll('@', 'right');
}
