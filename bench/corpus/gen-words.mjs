// Writes the input of wordfreq.c: WORDS words (default 350,000) drawn from a Zipf-like
// distribution over a vocabulary of 20,000 made-up words, 12 words a line. Deterministic (a fixed
// linear congruential generator), so every run and every machine gets the same file.
// Usage: node gen-words.mjs OUT [WORDS]
import { writeFileSync } from "node:fs";

const out = process.argv[2];
const words = Number(process.argv[3] ?? 350000);
let seed = 0x2545f491n;
function next() {
  seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
  return Number(seed >> 33n) / 2 ** 31;
}
const letters = "etaoinshrdlucmfwypvbgkqjxz";
const vocab = [];
for (let i = 0; i < 20000; i++) {
  const len = 2 + Math.floor(next() * 9);
  let w = "";
  for (let j = 0; j < len; j++) w += letters[Math.floor(next() ** 2 * letters.length)];
  vocab.push(w);
}
// Zipf: the rank-r word has weight 1/r; sample by inverting the cumulative weights.
const cum = [];
let s = 0;
for (let r = 1; r <= vocab.length; r++) cum.push((s += 1 / r));
const lines = [];
let line = [];
for (let i = 0; i < words; i++) {
  const x = next() * s;
  let lo = 0, hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] < x) lo = mid + 1; else hi = mid;
  }
  line.push(vocab[lo]);
  if (line.length === 12) { lines.push(line.join(" ")); line = []; }
}
if (line.length) lines.push(line.join(" "));
writeFileSync(out, lines.join("\n") + "\n");
