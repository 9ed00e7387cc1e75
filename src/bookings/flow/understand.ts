/**
 * What a caller's words say, in English and Russian, as a recognizer writes them (lower case, numbers as words,
 * no punctuation): names, phone numbers, yes/no, which task, and whether it is a question rather than an action.
 */
import { normalizeText } from './fuzzy.js';

export type Task = 'book' | 'cancel' | 'reschedule' | 'find';

const norm = (s: string): string => s.toLowerCase().replace(/ё/g, 'е').replace(/[’‘]/g, "'").replace(/\s+/g, ' ').trim();

// ---------- yes / no ----------

const YES =
  /^(yes|yeah|yep|yup|sure|ok|okay|alright|all right|sounds good|perfect|great|that works|fine|correct|right|that's right|that is right|exactly|go ahead|please do|do it|book it|confirm|absolutely|of course|да|ага|угу|конечно|хорошо|давайте|подходит|отлично|верно|все верно|правильно|подтверждаю|записывайте|да,? (верно|правильно|конечно|давайте))(?=[\s,.!?]|$)/;
const NO = /^(no|nope|nah|not really|neither|wrong|that's wrong|not quite|нет|не(т)? подходит|неверно|неправильно|не так|никак)(?=[\s,.!]|$)/;

export function isYes(text: string): boolean {
  return YES.test(norm(text).replace(/^(uh|um|well|ну|э)[, ]+/, ''));
}

export function isNo(text: string): boolean {
  return NO.test(norm(text).replace(/^(uh|um|well|ну|э)[, ]+/, ''));
}

// ---------- the answer to a read-back ----------

/** Words before the verb that still make it a yes: "yes", "please", "go ahead and", "I want to", "да". */
const ACT_LEAD = "((yes|yeah|ok|okay|sure|please|just|go ahead( and)?|yes please|i (still )?(want|would like|'d like|need) (you )?to|да|давайте|пожалуйста|хорошо)[, ]+)*";
/**
 * The read-back's own verb said back as the answer: "cancel it", "go ahead and cancel it", "отменяйте"; "move
 * it", "переносите"; "book it", "запишите".
 */
const ACT: Record<Task, RegExp | null> = {
  cancel: new RegExp(`^${ACT_LEAD}(cancel|call off|отмен(яйте|ите|ить|яй|и|яем))(?=[\\s,.!?]|$)`),
  reschedule: new RegExp(`^${ACT_LEAD}(move|reschedule|change|перен(осите|есите|ести|оси|еси|осим))(?=[\\s,.!?]|$)`),
  book: new RegExp(`^${ACT_LEAD}(book|schedule|reserve|запиш(ите|и)|записывай(те)?|бронируйте|забронируйте)(?=[\\s,.!?]|$)`),
  find: null,
};
/** Keeping a booking as it is: "(no,) keep it", "leave it", "don't cancel", "оставьте", "не отменяйте". */
const KEEP =
  /\b(keep (it|that|the (appointment|booking))|leave (it|that)|(don't|do not) (cancel|move|change|reschedule))\b|оставь(те)?|оставляй(те)?|пусть (оста|буд)|не (отменя|перенос|меня)/;

/**
 * The answer to the read-back of a task: a yes — or the task's own verb ("cancel it", "отменяйте", "move it") —
 * a no, or a wish to keep the booking ("no, keep it", "оставьте"); null when neither, or both ("yes, keep it",
 * "no, cancel it"), so the question is asked again rather than a guess acted on.
 */
export function readBackAnswer(text: string, task: Task | null): 'yes' | 'no' | null {
  const t = norm(text).replace(/^(uh|um|well|ну|э)[, ]+/, '');
  const act = task ? ACT[task] : null;
  const verb = act !== null && act.test(t.replace(/^(no|nope|нет)[, ]+/, ''));
  const yes = isYes(t) || verb;
  const no = isNo(t) || ((task === 'cancel' || task === 'reschedule') && KEEP.test(t));
  if (yes === no) return null;
  return yes ? 'yes' : 'no';
}

/** A no to a move's read-back that asks to keep the booking where it is ("keep it", "оставьте"), not another time. */
export const keepsBooking = (text: string): boolean => KEEP.test(norm(text));

// ---------- dropping the task ----------

/**
 * The caller drops what is under way: "never mind", "forget it", "scratch that", "I changed my mind", "don't book
 * it", "I'll call back later"; "не надо", "я передумал(а)", "забудьте".
 */
const STOP =
  /\b(never ?mind|forget (it|about it|that)|(scratch|drop) (that|this|it)|i('ve| have)? changed my mind|(don't|do not) (book|cancel|move|bother|do) (it|that|anything)|i (don't|do not) want (it|that|to book|an appointment)( any ?more)?|i'll call (you )?back( later)?)\b|не надо|не нужно|передумал|забудьте|(я )?перезвоню/;
/** "(Actually) cancel that": the task under way dropped — unless that task is a cancellation, where it is a yes. */
const CANCEL_THAT = /\bcancel (that|this|it)\b|отмените (это|её|ее)/;

export function isStop(text: string, task: Task | null): boolean {
  const t = norm(text);
  if (isYes(t)) return false;
  return STOP.test(t) || (task !== 'cancel' && CANCEL_THAT.test(t));
}

// ---------- questions vs actions ----------

/** "What happens if I cancel late?", "Что будет, если я отменю?" — asking about a policy, not asking for it. */
const HYPOTHETICAL =
  /\b(what happens|what if|if i (cancel|reschedule|move|change|miss|am late)|is there (a|any) (fee|charge|penalty)|how (late|far in advance|long before)|(cancellation|cancel|rescheduling) (policy|fee|charge|rules)|policy|can i cancel for free|do you charge)\b|что будет|а если|если я (отмен|перен|опозд|не приду)|штраф|правил[аоу]|политик|за сколько|бесплатно ли|можно ли бесплатно|сколько стоит отмен/;
/**
 * A spoken question, as a recognizer writes it (no "?"): its first words after a filler ("and", "so", "um", "а",
 * "ну") ask ("is parking free", "can you tell me…", "подскажите…"), or it asks how much / how long / what time.
 */
const QUESTION_START =
  /^((and|so|um|uh|well|okay|ok|also|hi|hello|а|и|ну|так|тогда)[\s,]+)*(what|when|where|how|why|which|who|do|does|did|is|are|will|would you|can you tell|could you tell|tell me|i wanted to ask|i want to know|i'?d like to know|i would like to know|сколько|когда|где|как|что|почему|какие|какой|какая|есть ли|можно ли|вы работаете|работаете ли|а если|скажите|подскажите|расскажите)(?=[\s,.!?]|$)/;
const QUESTION_ANYWHERE = /\b(how much|how long|how many|what time)\b|сколько стоит|во сколько/;

export function isHypothetical(text: string): boolean {
  return HYPOTHETICAL.test(norm(text));
}

export function isQuestion(text: string): boolean {
  const t = norm(text);
  return t.includes('?') || QUESTION_START.test(t) || QUESTION_ANYWHERE.test(t) || isHypothetical(t);
}

// ---------- task ----------

const FREE = '(free|available|open)';
const SLOT = '(time|times|slots?|spots?|openings?|availability|appointments?)';
const AVAILABILITY = new RegExp(
  '\\b(can|could|may) (i|we) (come (in|by|over)|stop by|drop (by|in)|pop in|get in|get an? (appointment|slot|spot))\\b' +
    `|\\b((do|would) you have|(is|are) there|any) ((any|an?|some) )?(${FREE} )?${SLOT}\\b|\\b(anything|something) ${FREE}\\b` +
    '|\\bare you (free|available)\\b' +
    '|свободн(ое|ые|ых|о|ый|ая|ую) (время|окн|окошк|мест|час)|есть (ли )?(время|окошк|окн|места|свободн)|можно (прийти|подойти|зайти|заехать)',
);

const TASK_RULES: [Task, RegExp][] = [
  ['reschedule', /\b(reschedule|re schedule|move (my|the|it)|change (my|the) (appointment|booking|time)|another time|different time)\b|перенес|перенест|изменить время|другое время/],
  ['cancel', /\bcancel|\bcall off\b|отмен/],
  ['find', /\b(my (appointment|booking|reservation)|when is my|do i have an? (appointment|booking)|check my (appointment|booking))\b|мо(я|ю|ей) запис|когда я записан|на когда я записан|моя бронь/],
  ['book', /\b(book|booking|appointment|schedule|reserve|reservation|sign me up|make an appointment)\b|запис|заброн|бронь|на при[её]м/],
  // Asking whether there is time is asking for it: "can I come in tomorrow?", "do you have anything free Friday?",
  // "any openings?", "есть свободное время?" (not "are you open on Sunday?", "do you have parking?").
  ['book', AVAILABILITY],
];

/** The task the caller asks for, or null. A question about a policy ("what if I cancel?") is not a request. */
export function taskOf(text: string): Task | null {
  const t = norm(text);
  if (isHypothetical(t)) return null;
  for (const [task, re] of TASK_RULES) if (re.test(t)) return task;
  return null;
}

// ---------- names ----------

const NOT_NAME = new Set([
  'looking', 'calling', 'interested', 'wondering', 'trying', 'here', 'fine', 'good', 'not', 'sorry', 'just', 'ok', 'okay', 'new',
  'a', 'an', 'the', 'going', 'gonna', 'available', 'great', 'perfect', 'correct', 'right', 'wrong', 'about', 'for', 'good', 'done', 'ready', 'happy', 'free', 'busy', 'sure', 'yes', 'no', 'calling', 'booking', 'it', 'is', 'that',
  'ищу', 'звоню', 'хочу', 'по', 'да', 'нет', 'хорошо', 'записан', 'записана', 'свободен', 'свободна', 'не',
]);
const NAME_STOP = /^(and|but|my|i|i'm|im|phone|number|please|calling|from|with|at|for|tomorrow|today|и|а|мой|мне|номер|телефон|пожалуйста|завтра|сегодня|на|в)$/;

function titleCase(s: string): string {
  return s.split(/\s+/).map((w) => w.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('-')).join(' ');
}

/**
 * A name said again in full after a part of it is the full name once: "Smith, John Smith" and "John, John Smith"
 * are John Smith (words lower case; a leading word the caller says again later is dropped, as often as it is).
 */
function sayOnce(words: string[]): string[] {
  let out = words;
  while (out.length > 1 && out.indexOf(out[0]!, 1) > 0) out = out.slice(1);
  return out;
}

function nameWords(words: string[]): string | null {
  const kept: string[] = [];
  for (const w of words) {
    const clean = w.replace(/[^\p{L}'-]/gu, '');
    if (!clean || NAME_STOP.test(clean.toLowerCase()) || /\d/.test(w)) break;
    kept.push(clean.toLowerCase());
    // Up to four words, so a name said twice ("smith john smith") is seen whole; two are kept.
    if (kept.length === 4) break;
  }
  if (!kept.length || NOT_NAME.has(kept[0]!)) return null;
  const once = sayOnce(kept).slice(0, 2);
  if (NOT_NAME.has(once[0]!)) return null;
  return titleCase(once.join(' '));
}

/** Words around a spelling that are no part of the name: "that's S-M-I-T-H", "it is spelled…", "по буквам". */
const SPELLING_WORDS = /^(it's|its|it|is|spelled|spelt|spell|spelling|name|last|first|surname|that's|thats|that|this|was|as|with|letters?|so|like|и|это|по|буквам|пишется|фамилия|имя|меня|зовут|мое|моя)$/;

/**
 * A name spelt letter by letter: "S-M-I-T-H", "s m i t h", "s. m. i. t. h." (at least two letters; Latin or
 * Cyrillic), with the name said as words before it: "John S-M-I-T-H" (a first name, the surname spelt), "John
 * Smith, that's S-M-I-T-H" and "John Smith, J-O-H-N S-M-I-T-H" (the name said, then spelt: John Smith), "John
 * Smith, that's S-M-Y-T-H" (the spelling corrects the surname heard: John Smyth). Null when nothing is spelt.
 */
export function spelledName(text: string): string | null {
  // Items in order: a spelt word, or a plain word. "N-I-N-A" is one spelt word; so are letters a recognizer
  // writes apart ("n i n a").
  const items: Array<{ spelt: boolean; text: string }> = [];
  let run = '';
  const endRun = (): void => {
    if (run.length >= 2) items.push({ spelt: true, text: run });
    else if (run) items.push({ spelt: false, text: run });
    run = '';
  };
  for (const token of norm(text).replace(/[,!?]/g, ' ').split(/\s+/).filter(Boolean)) {
    if (/^(\p{L}[-.])+\p{L}\.?$/u.test(token)) {
      endRun();
      items.push({ spelt: true, text: token.replace(/[-.]/g, '') });
      continue;
    }
    for (const piece of token.split(/[.-]/).filter(Boolean)) {
      if (/^\p{L}$/u.test(piece)) run += piece;
      else {
        endRun();
        items.push({ spelt: false, text: piece });
      }
    }
  }
  endRun();
  const first = items.findIndex((i) => i.spelt);
  if (first < 0) return null;
  const spelt = items.slice(first).filter((i) => i.spelt).map((i) => i.text);
  // The name said before the spelling: up to two words back from it, past "that's", "spelled".
  const isNameWord = (w: string): boolean => /^\p{L}{2,}$/u.test(w) && !NAME_STOP.test(w) && !NOT_NAME.has(w) && !SPELLING_WORDS.test(w);
  let end = first;
  while (end > 0 && SPELLING_WORDS.test(items[end - 1]!.text)) end--;
  let start = end;
  while (start > 0 && end - start < 2 && !items[start - 1]!.spelt && isNameWord(items[start - 1]!.text)) start--;
  const said = sayOnce(items.slice(start, end).map((i) => i.text));
  // Said right before the spelling ("John S-M-I-T-H"), not "John, that's S-M-I-T-H".
  const adjacent = end === first;
  let name: string[];
  if (!said.length || (spelt.length >= 2 && !spelt.every((w) => said.includes(w)))) name = spelt;
  else if (spelt.every((w) => said.includes(w))) name = said;
  else if (said.length >= 2) name = [...said.slice(0, -1), spelt[0]!];
  else name = adjacent ? [...said, spelt[0]!] : spelt;
  return titleCase(name.slice(0, 3).join(' '));
}

/** "My name is Anna Lee", "this is John", "меня зовут Анна"; a bare "Anna Lee" only when a name was asked for. */
export function extractName(text: string, asked = false): string | null {
  const spelled = asked ? spelledName(text) : null;
  if (spelled) return spelled;
  const patterns = [
    /\b(?:my name is|my name's|name is|call me)\s+(.+)$/i,
    /(?:^|[\s,.!?])(?:меня зовут|мо[её] имя|зовут)\s+(.+)$/i,
    /\b(?:this is|i am|i'm|it's|its)\s+(.+)$/i,
    /(?:^|[\s,.!?])(?:это|я)\s+(.+)$/i,
  ];
  for (const re of patterns) {
    const m = re.exec(text);
    if (!m) continue;
    const n = nameWords(m[1]!.split(/[\s,.!?]+/));
    if (n) return n;
  }
  if (!asked) return null;
  const words = text.replace(/[^\p{L}\s'-]/gu, ' ').split(/\s+/).filter(Boolean)
    .filter((w) => !/^(yes|yeah|sure|ok|okay|well|um|uh|it|is|my|name|the|да|ну|это|я|зовут|меня|имя)$/i.test(w));
  if (words.length > 4) return null;
  return nameWords(words);
}

// ---------- phone numbers ----------

const EN_DIGIT: Record<string, number> = { zero: 0, oh: 0, o: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9 };
const EN_TEENS: Record<string, number> = { ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19 };
const EN_TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const RU_DIGIT: Record<string, number> = { ноль: 0, нуль: 0, один: 1, одна: 1, два: 2, две: 2, три: 3, четыре: 4, пять: 5, шесть: 6, семь: 7, восемь: 8, девять: 9 };
const RU_TEENS: Record<string, number> = {
  десять: 10, одиннадцать: 11, двенадцать: 12, тринадцать: 13, четырнадцать: 14, пятнадцать: 15, шестнадцать: 16,
  семнадцать: 17, восемнадцать: 18, девятнадцать: 19,
};
const RU_TENS: Record<string, number> = { двадцать: 20, тридцать: 30, сорок: 40, пятьдесят: 50, шестьдесят: 60, семьдесят: 70, восемьдесят: 80, девяносто: 90 };
const RU_HUNDREDS: Record<string, number> = { сто: 100, двести: 200, триста: 300, четыреста: 400, пятьсот: 500, шестьсот: 600, семьсот: 700, восемьсот: 800, девятьсот: 900 };

const HOMOPHONE_DIGIT: Record<string, string> = { for: '4', fore: '4', to: '2', too: '2', won: '1', ate: '8' };
const isDigitWord = (w: string | undefined): boolean => w !== undefined && (/^\d+$/.test(w) || EN_DIGIT[w] !== undefined);

/**
 * The digits of a phone number said as digits or words: "+1 555 010 2030", "five five five, oh one two…",
 * "double five", "восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь". Null when fewer
 * than 7 digits were said.
 */
export function extractPhoneDigits(text: string): string | null {
  const t = norm(text).replace(/[()\-.,]/g, ' ');
  const tokens = t.split(/\s+/).filter(Boolean);
  let out = '';
  let plus = false;
  let repeat = 1;
  let run = 0;
  let best = '';
  const flush = () => {
    if (out.length > best.length) best = out;
  };
  for (let i = 0; i < tokens.length; i++) {
    let w = tokens[i]!;
    if (w.startsWith('+')) {
      if (!out) plus = true;
      w = w.slice(1);
    }
    if (w === 'plus' || w === 'плюс') {
      if (!out) plus = true;
      continue;
    }
    if (w === 'double' || w === 'двойная') { repeat = 2; continue; }
    if (w === 'triple') { repeat = 3; continue; }
    let piece: string | null = null;
    // "six for six", "two to two": a recognizer's homophone of a digit, between digits.
    const homophone = HOMOPHONE_DIGIT[w];
    if (homophone !== undefined && out && isDigitWord(tokens[i + 1])) piece = homophone;
    else if (/^\d+$/.test(w)) piece = w;
    else if (EN_DIGIT[w] !== undefined) piece = String(EN_DIGIT[w]);
    else if (RU_DIGIT[w] !== undefined) piece = String(RU_DIGIT[w]);
    else if (EN_TEENS[w] !== undefined) piece = String(EN_TEENS[w]);
    else if (RU_TEENS[w] !== undefined) piece = String(RU_TEENS[w]);
    else if (EN_TENS[w] !== undefined || RU_TENS[w] !== undefined) {
      const tens = EN_TENS[w] ?? RU_TENS[w]!;
      const next = tokens[i + 1] ?? '';
      const unit = EN_DIGIT[next] ?? RU_DIGIT[next];
      if (unit !== undefined && unit > 0 && next !== 'oh' && next !== 'o') {
        piece = String(tens + unit);
        i++;
      } else piece = String(tens);
    } else if (RU_HUNDREDS[w] !== undefined) {
      let n = RU_HUNDREDS[w]!;
      const a = tokens[i + 1] ?? '';
      if (RU_TEENS[a] !== undefined) { n += RU_TEENS[a]!; i++; }
      else if (RU_TENS[a] !== undefined) {
        n += RU_TENS[a]!;
        i++;
        const b = tokens[i + 1] ?? '';
        if (RU_DIGIT[b] !== undefined && RU_DIGIT[b]! > 0) { n += RU_DIGIT[b]!; i++; }
      } else if (RU_DIGIT[a] !== undefined && RU_DIGIT[a]! > 0) { n += RU_DIGIT[a]!; i++; }
      piece = String(n);
    } else if (w === 'hundred' && out) {
      piece = '00';
    }
    if (piece === null) {
      // Small words between digit groups ("five five five and then one two") do not break the number.
      if (out && run < 2 && /^(and|then|dash|и|тире)$/.test(w)) { run++; continue; }
      flush();
      out = '';
      repeat = 1;
      run = 0;
      continue;
    }
    run = 0;
    out += piece.repeat(repeat);
    repeat = 1;
  }
  flush();
  if (best.length < 7 || best.length > 15) return null;
  return (plus ? '+' : '') + best;
}

/** Digits read back one by one in groups: "555 010 2030" → "5 5 5, 0 1 0, 2 0 3 0". */
export function speakDigits(phone: string): string {
  const d = phone.replace(/\D/g, '');
  const groups: string[] = [];
  let rest = d;
  if (phone.startsWith('+') && d.length > 10) {
    groups.push(`+${[...d.slice(0, d.length - 10)].join(' ')}`);
    rest = d.slice(d.length - 10);
  }
  if (rest.length === 10) groups.push(rest.slice(0, 3), rest.slice(3, 6), rest.slice(6));
  else for (let i = 0; i < rest.length; i += 3) groups.push(rest.slice(i, i + 3));
  return groups.map((g) => (g.startsWith('+') ? g : [...g].join(' '))).join(', ');
}

// ---------- picking among offered options ----------

/** Which offered option the caller picked (0-based): "the second one", "the last", "yes" (the first), or null. */
export function pickedOption(text: string, count: number): number | null {
  const t = normalizeText(text);
  if (/\b(third|3rd|last one|the last)\b|трет|последн/.test(t) && count >= 3) return 2;
  if (/\b(second|2nd|the other one|latter|later one)\b|втор|друго/.test(t) && count >= 2) return 1;
  if (/\b(first|1st|earliest|earlier one)\b|перв|ближайш/.test(t) || (isYes(t) && count === 1)) return 0;
  return null;
}
