/*
 * "Did you mean …?" for a misspelt name, by edit distance: the fix is usually one letter away.
 */

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Edit distance, except that a word extending a candidate ("retrying" for "retry") counts as close. */
function nearness(word: string, candidate: string): number {
  const [a, b] = [word.toLowerCase(), candidate.toLowerCase()];
  const extends_ = Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a));
  // 1.5, not 1: a one-letter typo ("sha256_mail" for "sha256_email") beats a mere extension ("sha256").
  return extends_ ? Math.min(1.5, editDistance(a, b)) : editDistance(a, b);
}

/** The closest candidate (case-insensitive), or undefined when none is close. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = nearness(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` — did you mean X?` for the closest candidate, or an empty string. */
export function didYouMean(word: string, candidates: Iterable<string>, format = (s: string) => s): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` — did you mean ${format(match)}?`;
}
