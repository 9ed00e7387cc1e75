import { readFile } from 'node:fs/promises';

/**
 * Common US first names and surnames (census frequency lists, abridged, more common first), lower case. The local recognizer's
 * language model expects them (local-lm-corpus.ts), and the booking flow asks a caller to confirm a name made of
 * other words ("came down" for Kate Brown), which is more likely a mishearing.
 */
export const FIRST_NAMES = [
  'james', 'john', 'robert', 'michael', 'william', 'david', 'richard', 'joseph', 'thomas', 'charles', 'christopher', 'daniel',
  'matthew', 'anthony', 'mark', 'donald', 'steven', 'paul', 'andrew', 'joshua', 'kenneth', 'kevin', 'brian', 'george', 'timothy',
  'ronald', 'edward', 'jason', 'jeffrey', 'ryan', 'jacob', 'gary', 'nicholas', 'eric', 'jonathan', 'stephen', 'larry', 'justin',
  'scott', 'brandon', 'benjamin', 'samuel', 'sam', 'frank', 'gregory', 'raymond', 'alexander', 'patrick', 'jack', 'dennis', 'jerry',
  'tyler', 'aaron', 'jose', 'adam', 'henry', 'nathan', 'douglas', 'zachary', 'peter', 'kyle', 'walter', 'ethan', 'jeremy', 'harold',
  'keith', 'christian', 'roger', 'noah', 'gerald', 'carl', 'terry', 'sean', 'austin', 'arthur', 'lawrence', 'jesse', 'dylan', 'bryan',
  'joe', 'jordan', 'billy', 'bruce', 'albert', 'willie', 'gabriel', 'logan', 'alan', 'juan', 'wayne', 'roy', 'ralph', 'randy',
  'eugene', 'vincent', 'russell', 'elijah', 'louis', 'bobby', 'philip', 'johnny', 'bob', 'tom', 'mike', 'dave', 'steve', 'chris',
  'nick', 'tony', 'dan', 'ben', 'max', 'alex', 'luke', 'leo', 'oliver', 'liam', 'lucas', 'owen', 'carlos', 'luis', 'omar', 'ali',
  'mary', 'patricia', 'jennifer', 'linda', 'elizabeth', 'barbara', 'susan', 'jessica', 'sarah', 'karen', 'nancy', 'lisa', 'betty',
  'margaret', 'sandra', 'ashley', 'kimberly', 'emily', 'donna', 'michelle', 'dorothy', 'carol', 'amanda', 'melissa', 'deborah',
  'stephanie', 'rebecca', 'sharon', 'laura', 'cynthia', 'kathleen', 'amy', 'shirley', 'angela', 'helen', 'anna', 'ann', 'brenda',
  'pamela', 'nicole', 'emma', 'samantha', 'katherine', 'kate', 'katie', 'christine', 'debra', 'rachel', 'catherine', 'carolyn',
  'janet', 'ruth', 'maria', 'heather', 'diane', 'virginia', 'julie', 'joyce', 'victoria', 'olivia', 'kelly', 'christina', 'lauren',
  'joan', 'evelyn', 'judith', 'megan', 'cheryl', 'andrea', 'hannah', 'martha', 'jacqueline', 'frances', 'gloria', 'ann', 'teresa',
  'kathryn', 'sara', 'janice', 'jean', 'alice', 'madison', 'doris', 'abigail', 'julia', 'judy', 'grace', 'denise', 'amber',
  'marilyn', 'beverly', 'danielle', 'theresa', 'sophia', 'marie', 'diana', 'brittany', 'natalie', 'isabella', 'charlotte', 'rose',
  'alexis', 'kayla', 'lucy', 'lily', 'mia', 'ella', 'chloe', 'zoe', 'nina', 'tina', 'jane', 'jenny', 'amy', 'eva', 'ivy', 'rosa',
  'ana', 'carmen', 'elena', 'sofia', 'fatima', 'aisha', 'priya', 'mei', 'yuki', 'leah', 'ellen', 'irene', 'paula', 'monica',
];
export const SURNAMES = [
  'smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez',
  'gonzalez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'perez', 'thompson', 'white', 'harris',
  'sanchez', 'clark', 'ramirez', 'lewis', 'robinson', 'walker', 'young', 'allen', 'king', 'wright', 'scott', 'torres', 'nguyen',
  'hill', 'flores', 'green', 'adams', 'nelson', 'baker', 'hall', 'rivera', 'campbell', 'mitchell', 'carter', 'roberts', 'gomez',
  'phillips', 'evans', 'turner', 'diaz', 'parker', 'cruz', 'edwards', 'collins', 'reyes', 'stewart', 'morris', 'morales', 'murphy',
  'cook', 'rogers', 'gutierrez', 'ortiz', 'morgan', 'cooper', 'peterson', 'bailey', 'reed', 'kelly', 'howard', 'ramos', 'kim',
  'cox', 'ward', 'richardson', 'watson', 'brooks', 'chavez', 'wood', 'james', 'bennett', 'gray', 'mendoza', 'ruiz', 'hughes',
  'price', 'alvarez', 'castillo', 'sanders', 'patel', 'myers', 'long', 'ross', 'foster', 'jimenez', 'powell', 'jenkins', 'perry',
  'russell', 'sullivan', 'bell', 'coleman', 'butler', 'henderson', 'barnes', 'gonzales', 'fisher', 'vasquez', 'simmons', 'romero',
  'jordan', 'patterson', 'alexander', 'hamilton', 'graham', 'reynolds', 'griffin', 'wallace', 'moreno', 'west', 'cole', 'hayes',
  'bryant', 'herrera', 'gibson', 'ellis', 'tran', 'medina', 'aguilar', 'stevens', 'murray', 'ford', 'castro', 'marshall', 'owens',
  'harrison', 'fernandez', 'mcdonald', 'woods', 'washington', 'kennedy', 'wells', 'vargas', 'henry', 'chen', 'freeman', 'webb',
  'tucker', 'guzman', 'burns', 'crawford', 'olson', 'simpson', 'porter', 'hunter', 'gordon', 'mendez', 'silva', 'shaw', 'snyder',
  'mason', 'dixon', 'munoz', 'hunt', 'hicks', 'holmes', 'palmer', 'wagner', 'black', 'robertson', 'boyd', 'rose', 'stone',
  'salazar', 'fox', 'warren', 'mills', 'meyer', 'rice', 'schmidt', 'garza', 'daniels', 'ferguson', 'nichols', 'stephens', 'soto',
  'weaver', 'ryan', 'gardner', 'payne', 'grant', 'dunn', 'kelley', 'spencer', 'hawkins', 'arnold', 'pierce', 'vazquez', 'hansen',
  'peters', 'santos', 'hart', 'bradley', 'knight', 'elliott', 'cunningham', 'duncan', 'armstrong', 'hudson', 'carroll', 'lane',
  'riley', 'andrews', 'ray', 'berry', 'perkins', 'hoffman', 'johnston', 'matthews', 'pena', 'richards', 'willis', 'carpenter',
  'lawrence', 'sandoval', 'george', 'chapman', 'rios', 'walsh', 'fields', 'hardy', 'wong', 'lin', 'wang', 'singh', 'khan', 'cohen',
  'fischer', 'weber', 'klein', 'wolf', 'young', 'day', 'may', 'lane', 'bush', 'page', 'rich', 'love', 'hope',
];

// ---------- how words sound ----------

/** word → its pronunciations (ARPAbet phonemes, no stress marks). */
export interface Pronunciations {
  get(word: string): string[][] | undefined;
  has(word: string): boolean;
}

const phonesOf = (line: string, space: number): string[] => line.slice(space + 1).trim().split(/\s+/).map((p) => p.replace(/\d$/, ''));

/** A cmudict-format text, every line read (for a model's small dictionary). */
export function parsePronunciations(text: string): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    // Alternates are written "word(2) …".
    const word = line.slice(0, space).replace(/\(\d+\)$/, '');
    const list = out.get(word);
    if (list) list.push(phonesOf(line, space));
    else out.set(word, [phonesOf(line, space)]);
  }
  return out;
}

/**
 * The installed 130 000-word dictionary, read without parsing all of it (that takes a few hundred ms of the event
 * loop): one pass picks out the listed names (about 15 ms), any other word is found in the text when first asked
 * and read then.
 */
export function namePronunciations(text: string): Pronunciations {
  const body = text.startsWith('\n') ? text : `\n${text}`;
  const names = new Set([...FIRST_NAMES, ...SURNAMES]);
  const found = new Map<string, string[][] | undefined>();
  for (let at = 1; at < body.length;) {
    const nl = body.indexOf('\n', at);
    const end = nl < 0 ? body.length : nl;
    const space = body.indexOf(' ', at);
    if (space > at && space < end) {
      const word = body.slice(at, space).replace(/\(\d+\)$/, '');
      if (names.has(word)) found.set(word, [...(found.get(word) ?? []), phonesOf(body.slice(at, end), space - at)]);
    }
    at = end + 1;
  }
  for (const n of names) if (!found.has(n)) found.set(n, undefined);
  const lookUp = (word: string): string[][] | undefined => {
    if (found.has(word)) return found.get(word);
    let list: string[][] | undefined;
    if (/^[a-z'.-]+$/.test(word)) {
      // "word …", then its alternates "word(2) …", "word(3) …" (near it, not always next to it).
      for (let k = 1; ; k++) {
        const key = k === 1 ? `\n${word} ` : `\n${word}(${k}) `;
        const at = body.indexOf(key);
        if (at < 0) break;
        const nl = body.indexOf('\n', at + 1);
        const line = body.slice(at + 1, nl < 0 ? body.length : nl);
        (list ??= []).push(phonesOf(line, line.indexOf(' ')));
      }
    }
    found.set(word, list);
    return list;
  };
  return { get: lookUp, has: (word) => lookUp(word) !== undefined };
}

const read = new Map<string, Promise<Pronunciations | null>>();

/** A pronouncing dictionary file, read once per path (null when it cannot be read). */
export function pronunciationsIn(path: string): Promise<Pronunciations | null> {
  let p = read.get(path);
  if (!p) {
    p = readFile(path, 'utf8').then(parsePronunciations, () => null);
    read.set(path, p);
  }
  return p;
}

/** Vowels: height (1 high … 3 low), backness (1 front … 3 back), a glide (diphthong) or not. */
const VOWEL_SPACE: Record<string, [number, number, boolean]> = {
  IY: [1, 1, false], IH: [1.5, 1.2, false], EY: [2, 1, true], EH: [2, 1, false], AE: [3, 1, false], AY: [3, 1.5, true],
  AH: [2.5, 2, false], ER: [2, 2, false], AA: [3, 3, false], AO: [2.5, 3, false], AW: [3, 2.5, true], OY: [2.5, 3, true],
  OW: [2, 3, true], UH: [1.5, 2.8, false], UW: [1, 3, false],
};
const VOWELS = new Set(Object.keys(VOWEL_SPACE));
/** Consonants: place, manner, voiced. */
const CONSONANTS: Record<string, [string, string, boolean]> = {
  P: ['lab', 'stop', false], B: ['lab', 'stop', true], M: ['lab', 'nasal', true], W: ['lab', 'glide', true],
  F: ['labdent', 'fric', false], V: ['labdent', 'fric', true], TH: ['dent', 'fric', false], DH: ['dent', 'fric', true],
  T: ['alv', 'stop', false], D: ['alv', 'stop', true], S: ['alv', 'fric', false], Z: ['alv', 'fric', true],
  N: ['alv', 'nasal', true], L: ['alv', 'liquid', true], R: ['post', 'liquid', true],
  SH: ['post', 'fric', false], ZH: ['post', 'fric', true], CH: ['post', 'affr', false], JH: ['post', 'affr', true],
  Y: ['pal', 'glide', true], K: ['vel', 'stop', false], G: ['vel', 'stop', true], NG: ['vel', 'nasal', true],
  HH: ['glot', 'fric', false],
};

function substitution(a: string, b: string): number {
  if (a === b) return 0;
  const va = VOWELS.has(a);
  const vb = VOWELS.has(b);
  if (va && vb) {
    // One vowel for another: cheap between neighbours (AH/UH), dearer across the vowel space (EY/AA).
    const [h1, b1, g1] = VOWEL_SPACE[a]!;
    const [h2, b2, g2] = VOWEL_SPACE[b]!;
    return Math.min(0.8, Math.max(0.2, 0.2 * (Math.abs(h1 - h2) + Math.abs(b1 - b2)) + (g1 !== g2 ? 0.2 : 0)));
  }
  if ((a === 'ER' && b === 'R') || (a === 'R' && b === 'ER')) return 0.5;
  if (va || vb) return 1;
  const x = CONSONANTS[a];
  const y = CONSONANTS[b];
  if (!x || !y) return 1;
  const differ = Number(x[0] !== y[0]) + Number(x[1] !== y[1]) + Number(x[2] !== y[2]);
  return [0, 0.4, 0.8, 1][differ]!;
}

/** Dropping or adding a sound: a schwa costs little, a vowel less than a consonant. */
const indel = (p: string): number => (p === 'AH' ? 0.5 : VOWELS.has(p) ? 0.7 : 1);

/** Weighted edit distance between two phoneme strings. */
export function phonemeDistance(a: readonly string[], b: readonly string[]): number {
  let prev = [0];
  for (let j = 1; j <= b.length; j++) prev[j] = prev[j - 1]! + indel(b[j - 1]!);
  for (let i = 1; i <= a.length; i++) {
    const row = [prev[0]! + indel(a[i - 1]!)];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + indel(a[i - 1]!), row[j - 1]! + indel(b[j - 1]!), prev[j - 1]! + substitution(a[i - 1]!, b[j - 1]!));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Close enough to be taken for one another: at most one whole edit, about one per three sounds ("came" → "kate" yes, "i" → "ali" no). */
export const soundsAlike = (distance: number, sounds: number): boolean => distance <= Math.min(1, 0.35 * sounds);

const KNOWN = new Set([...FIRST_NAMES, ...SURNAMES]);

/** Is this word (any case) a common first name or surname? */
export const isCommonName = (word: string): boolean => KNOWN.has(word.toLowerCase());
