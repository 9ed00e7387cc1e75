import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { foreignIsoOffset, parseWhen } from '../../src/bookings/when-parser.js';

const zone = 'America/New_York';
// Wednesday 2026-03-04 10:00 in New York (DST starts Sunday 2026-03-08).
const now = DateTime.fromISO('2026-03-04T10:00', { zone }).toJSDate();
const local = (s: string) => DateTime.fromISO(s, { zone }).toISO();

const exact: Array<[string, string]> = [
  ['tomorrow at 3 pm', '2026-03-05T15:00'],
  ['today at 10:30', '2026-03-04T10:30'],
  ['on Friday at noon', '2026-03-06T12:00'],
  ['December 3 at 2', '2026-12-03T14:00'],
  ['Tomorrow at 3pm, please.', '2026-03-05T15:00'],
  ['day after tomorrow at nine thirty am', '2026-03-06T09:30'],
  ['at 9', '2026-03-05T09:00'],
  ['tomorrow at 7 am', '2026-03-05T07:00'],
  ['tomorrow at 12:30', '2026-03-05T12:30'],
  ['at 3 in the afternoon on Thursday', '2026-03-05T15:00'],
  ['next monday at four', '2026-03-09T16:00'],
  ['the 3rd of december at 10 am', '2026-12-03T10:00'],
  ['half past two tomorrow', '2026-03-05T14:30'],
  ['завтра в три часа дня', '2026-03-05T15:00'],
  ['послезавтра в 11', '2026-03-06T11:00'],
  ['в пятницу в 15:30', '2026-03-06T15:30'],
  ['в половине третьего', '2026-03-04T14:30'],
  ['3 декабря в 14:00', '2026-12-03T14:00'],
  ['третьего декабря в 10 утра', '2026-12-03T10:00'],
  ['через 2 дня в 10', '2026-03-06T10:00'],
  ['в час дня', '2026-03-04T13:00'],
  ['в среду в 10 утра', '2026-03-11T10:00'],
  ['в семь вечера', '2026-03-04T19:00'],
  ['Завтра в двенадцать тридцать', '2026-03-05T12:30'],
  ['2026-03-10T15:00:00-04:00', '2026-03-10T15:00'],
  // Spans and days of the month a caller says (each was read as today, or "two" as 2 PM):
  ['in two weeks at 10 am', '2026-03-18T10:00'],
  ['a week from today at 3 pm', '2026-03-11T15:00'],
  ['two weeks from Friday at noon', '2026-03-20T12:00'],
  ['on the 15th at 10 am', '2026-03-15T10:00'],
  ['the second at 10 am', '2026-04-02T10:00'],
  ['not Friday, Monday at 3 pm', '2026-03-09T15:00'],
  ['через 2 недели в 10 утра', '2026-03-18T10:00'],
  // Minutes past or to any hour; morning or afternoon decided on the hour said (as "at eight" is), then the minutes.
  ['tomorrow at ten past nine', '2026-03-05T09:10'],
  ['tomorrow at ten minutes past nine', '2026-03-05T09:10'],
  ['tomorrow at ten after nine', '2026-03-05T09:10'],
  ['tomorrow at twenty past three', '2026-03-05T15:20'],
  ['tomorrow at 20 past 3', '2026-03-05T15:20'],
  ['tomorrow at twenty five past three', '2026-03-05T15:25'],
  ['tomorrow at five to six', '2026-03-05T17:55'],
  ['tomorrow at 5 to 6 in the morning', '2026-03-05T05:55'],
  ['tomorrow at ten to one', '2026-03-05T12:50'],
  ['quarter to eight tomorrow', '2026-03-05T07:45'],
  ['tomorrow at a quarter to eight', '2026-03-05T07:45'],
  ['quarter of eight tomorrow', '2026-03-05T07:45'],
  ['tomorrow at quarter to one', '2026-03-05T12:45'],
  ['завтра без четверти восемь', '2026-03-05T07:45'],
  ['завтра без десяти восемь', '2026-03-05T07:50'],
  ['завтра без 10 минут три', '2026-03-05T14:50'],
  ['завтра без двадцати пяти девять', '2026-03-05T08:35'],
  ['завтра без пяти час', '2026-03-05T12:55'],
  ['завтра в двадцать минут четвертого', '2026-03-05T15:20'],
  ['завтра в 20 минут четвертого', '2026-03-05T15:20'],
  ['завтра в пять минут первого', '2026-03-05T12:05'],
  ['завтра в четверть десятого', '2026-03-05T09:15'],
  // Half past seven, as "half past seven" is: the afternoon rule reads the clock hour (7), not the ordinal (8th).
  ['завтра в половине восьмого', '2026-03-05T19:30'],
  ['завтра в полвосьмого утра', '2026-03-05T07:30'],
  ['завтра в половине первого', '2026-03-05T12:30'],
  ['завтра в десять минут девятого', '2026-03-05T08:10'],
  ['завтра полпятого', '2026-03-05T16:30'],
  // A self-correction: what follows the last marker wins, the rest is kept.
  ['tomorrow at 10 no wait 11', '2026-03-05T11:00'],
  ['tomorrow at 10, sorry, 11', '2026-03-05T11:00'],
  ['tomorrow at 10, I mean Friday', '2026-03-06T10:00'],
  ['завтра в 10, нет, в 11', '2026-03-05T11:00'],
  ['завтра в 10, то есть в 11', '2026-03-05T11:00'],
  ['завтра в 10, вернее в пятницу', '2026-03-06T10:00'],
  // Numeric dates (New York: month first), ISO with a space, a date named twice.
  ['6/12 at 2pm', '2026-06-12T14:00'],
  ['6/12/2026 at 2 pm', '2026-06-12T14:00'],
  ['13/6 at 2pm', '2026-06-13T14:00'],
  ['2026-06-12 14:00', '2026-06-12T14:00'],
  ['2026-06-12 at 2 pm', '2026-06-12T14:00'],
  ['Friday, June 12 at 3', '2026-06-12T15:00'],
  ['friday the 13th at 3', '2026-03-13T15:00'],
  // Numbers that count something else, and a loose "one", are no time left unread.
  ['for 2 people tomorrow at ten past nine', '2026-03-05T09:10'],
  ['3 of us, tomorrow at 10 to 11', '2026-03-05T10:50'],
  ['can I book one for tomorrow at quarter to eight', '2026-03-05T07:45'],
  ['wait a second, tomorrow at 20 past 3', '2026-03-05T15:20'],
  // A day of next month (each was asked again).
  ['at 3 on the fifteenth of next month', '2026-04-15T15:00'],
  ['the fifteenth of next month at 10 am', '2026-04-15T10:00'],
  ['15th of next month at 3pm', '2026-04-15T15:00'],
  ['next month on the 15th at 3 pm', '2026-04-15T15:00'],
  ['пятнадцатого следующего месяца в 15:00', '2026-04-15T15:00'],
  ['в следующем месяце 15-го в 10 утра', '2026-04-15T10:00'],
  ['первого числа следующего месяца в 12:00', '2026-04-01T12:00'],
  // Minutes to or past noon and midnight (each was read as noon or midnight itself, the minutes dropped).
  ['a quarter to noon tomorrow', '2026-03-05T11:45'],
  ['tomorrow at quarter past noon', '2026-03-05T12:15'],
  ['tomorrow at ten after noon', '2026-03-05T12:10'],
  ['tomorrow at half past midnight', '2026-03-05T00:30'],
  ['ten past midnight tomorrow', '2026-03-05T00:10'],
  ['a quarter to midnight tomorrow', '2026-03-05T23:45'],
  ['tomorrow at twelve midnight', '2026-03-05T00:00'],
  ['завтра без двадцати полночь', '2026-03-05T23:40'],
  ['завтра без пяти полдень', '2026-03-05T11:55'],
  // Ordinal words written with a hyphen are a day of the month as "the fifteenth" is ("twenty-first" was dropped: today).
  ['on the twenty-first at 2 pm', '2026-03-21T14:00'],
  ['on the thirty-first at 2 pm', '2026-03-31T14:00'],
  ['the twenty second at 10 am', '2026-03-22T10:00'],
  // "at night" / "ночи": 5–11 the evening's, 12 midnight, 1–4 the small hours (11 and 11:40 were read as the morning).
  ['tomorrow at 11 at night', '2026-03-05T23:00'],
  ['tomorrow at twenty to twelve at night', '2026-03-05T23:40'],
  ['tomorrow at 12 at night', '2026-03-05T00:00'],
  ['завтра в 11 ночи', '2026-03-05T23:00'],
  ['завтра в 2 ночи', '2026-03-05T02:00'],
  // Midnight said for today is the one ending it, never today's 00:00 already past.
  ['tonight at midnight', '2026-03-05T00:00'],
  ['сегодня в полночь', '2026-03-05T00:00'],
  // Words of a date that the parse reads keep working beside the new vocabulary.
  ['this coming friday at 3', '2026-03-06T15:00'],
  ['в ближайшую пятницу в 3', '2026-03-06T15:00'],
  ['tonight at 9', '2026-03-04T21:00'],
  // A weekday said with "this week" is that week's (each was asked again, after the date-word vocabulary, for ever).
  ['friday this week at 3 pm', '2026-03-06T15:00'],
  ['this week on friday at 3 pm', '2026-03-06T15:00'],
  ['в пятницу на этой неделе в 3', '2026-03-06T15:00'],
  ['на этой неделе в пятницу в 3', '2026-03-06T15:00'],
  ['wednesday this week at 3 pm', '2026-03-04T15:00'],
  ['hi, this is Anna, tomorrow at 3', '2026-03-05T15:00'],
  // A length of time ahead in months or years, with an hour (each was asked again).
  ['in a month at 3 pm', '2026-04-04T15:00'],
  ['a month from today at 3 pm', '2026-04-04T15:00'],
  ['через месяц в 15', '2026-04-04T15:00'],
  ['in 2 months at 3 pm', '2026-05-04T15:00'],
  ['через 2 месяца в 15:00', '2026-05-04T15:00'],
  ['через три недели в 10 утра', '2026-03-25T10:00'],
  // "The Tuesday after next" is a week after next Tuesday (was asked again); a weekday in a part of a week.
  ['Tuesday after next at 10', '2026-03-17T10:00'],
  ['the Tuesday after next at 10 am', '2026-03-17T10:00'],
  ['friday at the end of next week at 2 pm', '2026-03-13T14:00'],
  // 24-hour clocks written or said other ways (each was asked again): "1700", "17 hundred", "17h", "17-00".
  ['tomorrow at 1700', '2026-03-05T17:00'],
  ['tomorrow at 0930', '2026-03-05T09:30'],
  ['tomorrow at seventeen hundred hours', '2026-03-05T17:00'],
  ['tomorrow at 17h', '2026-03-05T17:00'],
  ['tomorrow at 17h30', '2026-03-05T17:30'],
  ['завтра в 17-00', '2026-03-05T17:00'],
  ['завтра в 9-30', '2026-03-05T09:30'],
  // The forms a caller uses for an hour, all read alike.
  ['tomorrow at 5pm', '2026-03-05T17:00'],
  ['tomorrow at 5 pm', '2026-03-05T17:00'],
  ['tomorrow at 17:00', '2026-03-05T17:00'],
  ['tomorrow at half past three', '2026-03-05T15:30'],
  ['tomorrow at quarter to five', '2026-03-05T16:45'],
  ['tomorrow at noon', '2026-03-05T12:00'],
  ['tomorrow morning at 9', '2026-03-05T09:00'],
  ['завтра в полпятого', '2026-03-05T16:30'],
  ['завтра без четверти пять', '2026-03-05T16:45'],
  ['это завтра в 3', '2026-03-05T15:00'],
];

const windows: Array<[string, string, string, string]> = [
  ['next Monday morning', 'morning', '2026-03-09T06:00', '2026-03-09T12:00'],
  ['в понедельник утром', 'morning', '2026-03-09T06:00', '2026-03-09T12:00'],
  ['tomorrow', 'day', '2026-03-05T00:00', '2026-03-06T00:00'],
  ['this evening', 'evening', '2026-03-04T17:00', '2026-03-05T00:00'],
  ['in 3 days', 'day', '2026-03-07T00:00', '2026-03-08T00:00'],
  ['next week', 'week', '2026-03-09T00:00', '2026-03-16T00:00'],
  ['на следующей неделе', 'week', '2026-03-09T00:00', '2026-03-16T00:00'],
  ['завтра после обеда', 'afternoon', '2026-03-05T12:00', '2026-03-05T17:00'],
  ['tomorrow after noon', 'afternoon', '2026-03-05T12:00', '2026-03-05T17:00'],
  ['завтра до полудня', 'morning', '2026-03-05T06:00', '2026-03-05T12:00'],
  ['в субботу вечером', 'evening', '2026-03-07T17:00', '2026-03-08T00:00'],
  ['2026-03-10', 'day', '2026-03-10T00:00', '2026-03-11T00:00'],
  ['in two weeks', 'day', '2026-03-18T00:00', '2026-03-19T00:00'],
  ['не завтра, а в пятницу', 'day', '2026-03-06T00:00', '2026-03-07T00:00'],
  ['on 6/12', 'day', '2026-06-12T00:00', '2026-06-13T00:00'],
  ['next week on Friday', 'day', '2026-03-13T00:00', '2026-03-14T00:00'],
  ['tomorrow at 3, sorry, in the morning', 'morning', '2026-03-05T06:00', '2026-03-05T12:00'],
  ['the fifteenth of next month', 'day', '2026-04-15T00:00', '2026-04-16T00:00'],
  ['пятнадцатого следующего месяца', 'day', '2026-04-15T00:00', '2026-04-16T00:00'],
  // Every length of time ahead is a day, every next week, month or year the whole of it, in both languages, digits or
  // words (a month or a year, and a count in words, was "didn't catch that", even past the horizon).
  ['in two months', 'day', '2026-05-04T00:00', '2026-05-05T00:00'],
  ['in 2 months', 'day', '2026-05-04T00:00', '2026-05-05T00:00'],
  ['in a month', 'day', '2026-04-04T00:00', '2026-04-05T00:00'],
  ['in six months', 'day', '2026-09-04T00:00', '2026-09-05T00:00'],
  ['in half a year', 'day', '2026-09-04T00:00', '2026-09-05T00:00'],
  ['in a year', 'day', '2027-03-04T00:00', '2027-03-05T00:00'],
  ['in two years', 'day', '2028-03-04T00:00', '2028-03-05T00:00'],
  ['in three weeks', 'day', '2026-03-25T00:00', '2026-03-26T00:00'],
  ['in 90 days', 'day', '2026-06-02T00:00', '2026-06-03T00:00'],
  ['in a fortnight', 'day', '2026-03-18T00:00', '2026-03-19T00:00'],
  ['in a couple of weeks', 'day', '2026-03-18T00:00', '2026-03-19T00:00'],
  ["in three weeks' time", 'day', '2026-03-25T00:00', '2026-03-26T00:00'],
  ["in a month's time", 'day', '2026-04-04T00:00', '2026-04-05T00:00'],
  ['a month from now', 'day', '2026-04-04T00:00', '2026-04-05T00:00'],
  ['two months from today', 'day', '2026-05-04T00:00', '2026-05-05T00:00'],
  ['a year from now', 'day', '2027-03-04T00:00', '2027-03-05T00:00'],
  ['через месяц', 'day', '2026-04-04T00:00', '2026-04-05T00:00'],
  ['через два месяца', 'day', '2026-05-04T00:00', '2026-05-05T00:00'],
  ['через 5 месяцев', 'day', '2026-08-04T00:00', '2026-08-05T00:00'],
  ['через полгода', 'day', '2026-09-04T00:00', '2026-09-05T00:00'],
  ['через год', 'day', '2027-03-04T00:00', '2027-03-05T00:00'],
  ['через пять лет', 'day', '2031-03-04T00:00', '2031-03-05T00:00'],
  ['через пару недель', 'day', '2026-03-18T00:00', '2026-03-19T00:00'],
  ['через три недели', 'day', '2026-03-25T00:00', '2026-03-26T00:00'],
  ['next month', 'month', '2026-04-01T00:00', '2026-05-01T00:00'],
  ['the month after next', 'month', '2026-05-01T00:00', '2026-06-01T00:00'],
  ['this month', 'month', '2026-03-04T00:00', '2026-04-01T00:00'],
  ['next year', 'year', '2027-01-01T00:00', '2028-01-01T00:00'],
  ['the week after next', 'week', '2026-03-16T00:00', '2026-03-23T00:00'],
  ['в следующем месяце', 'month', '2026-04-01T00:00', '2026-05-01T00:00'],
  ['в этом месяце', 'month', '2026-03-04T00:00', '2026-04-01T00:00'],
  ['в следующем году', 'year', '2027-01-01T00:00', '2028-01-01T00:00'],
  ['на следующий год', 'year', '2027-01-01T00:00', '2028-01-01T00:00'],
  ['в будущем году', 'year', '2027-01-01T00:00', '2028-01-01T00:00'],
  // A part of a week, month or year (the end of next month was read as the whole month; the rest asked again).
  ['the end of the month', 'month', '2026-03-21T00:00', '2026-04-01T00:00'],
  ['at the end of next month', 'month', '2026-04-21T00:00', '2026-05-01T00:00'],
  ['the beginning of next month', 'month', '2026-04-01T00:00', '2026-04-11T00:00'],
  ['the middle of next month', 'month', '2026-04-11T00:00', '2026-04-21T00:00'],
  ['early next week', 'week', '2026-03-09T00:00', '2026-03-12T00:00'],
  ['late next month', 'month', '2026-04-21T00:00', '2026-05-01T00:00'],
  ['later this week', 'week', '2026-03-05T00:00', '2026-03-09T00:00'],
  ['the end of the week', 'week', '2026-03-05T00:00', '2026-03-09T00:00'],
  ['the end of the year', 'year', '2026-12-01T00:00', '2027-01-01T00:00'],
  ['в конце месяца', 'month', '2026-03-21T00:00', '2026-04-01T00:00'],
  ['в конце следующего месяца', 'month', '2026-04-21T00:00', '2026-05-01T00:00'],
  ['в начале следующей недели', 'week', '2026-03-09T00:00', '2026-03-12T00:00'],
  ['в середине следующего месяца', 'month', '2026-04-11T00:00', '2026-04-21T00:00'],
  ['the Tuesday after next', 'day', '2026-03-17T00:00', '2026-03-18T00:00'],
  // Lunchtime and "closer to the evening" (each was the whole day, the words dropped).
  ['tomorrow at lunch', 'midday', '2026-03-05T12:00', '2026-03-05T14:00'],
  ['tomorrow around lunchtime', 'midday', '2026-03-05T12:00', '2026-03-05T14:00'],
  ['завтра в обед', 'midday', '2026-03-05T12:00', '2026-03-05T14:00'],
  ['завтра ближе к вечеру', 'evening', '2026-03-05T17:00', '2026-03-06T00:00'],
  // The coming weekend (was asked again).
  ['this weekend', 'week', '2026-03-07T00:00', '2026-03-09T00:00'],
  ['on the weekend', 'week', '2026-03-07T00:00', '2026-03-09T00:00'],
  ['на выходных', 'week', '2026-03-07T00:00', '2026-03-09T00:00'],
  ['в эти выходные', 'week', '2026-03-07T00:00', '2026-03-09T00:00'],
  ['sunday on the weekend', 'day', '2026-03-08T00:00', '2026-03-09T00:00'],
  // A date inside the year named is that date.
  ['on March 3 next year', 'day', '2027-03-03T00:00', '2027-03-04T00:00'],
];

/** Said so that any one time would be a guess: the agent asks again. */
const askAgain: Array<[string, string]> = [
  ['tomorrow at 11 or 12', 'two hours said'],
  ['10 tomorrow', 'a number read as nothing'],
  ['tomorrow from 10 to 12', 'a range, not "ten to twelve"'],
  ['in June at 3', 'a month without a day'],
  ['Friday at 3 or Saturday', 'two days said'],
  ['friday the 14th at 3', 'the 14th is a Saturday'],
  ['6/12 at 2pm', 'June 12 or December 6 where the order is unknown (UTC)'],
  // A word of a time left unread: what was read of it (the day) would be a guess.
  ['tomorrow at quarter to', 'no hour for the minutes'],
  ['tomorrow at half past', 'no hour for the half'],
  ['завтра в половине', 'no hour for the half'],
  // "the first" alone: a pick among the times offered as likely as a day of the month.
  ['the first', 'a pick, or the 1st'],
  ['the second, please', 'a pick, or the 2nd'],
  // A word of a date left unread: what was read without it (today, this Friday) would be a guess.
  ['next month at 3pm', 'no day of next month'],
  ['next year at 3 pm', 'no day of next year'],
  ['next week at 3', 'which day of next week (the hour was dropped: the whole week offered)'],
  ['the month after next at 10', 'which day of that month'],
  ['next month on Friday at 3pm', 'which Friday of next month'],
  ['the last friday of the month at 2 pm', 'the last Friday is not read'],
  ['last friday at 2', 'a day already past'],
  ['this week at 3', 'which day of the week'],
  ['tuesday this week at 3 pm', 'that day of this week has passed (was next Tuesday)'],
  ['the week after next at 3', 'which day of that week'],
  ['tomorrow morning or evening', 'two parts of the day said'],
  ['в следующем месяце в 15', 'no day of next month'],
  ['в следующем году в 15', 'no day of next year'],
  ['в последнюю пятницу месяца в 14', 'the last Friday is not read'],
  ['в прошлую пятницу в 3', 'a day already past'],
  ['на этой неделе в 3', 'which day of the week'],
  ['завтра ночью', 'the night is not a window read'],
  ['на пятнадцатое в 14', 'a day of the month said without its month'],
  ['двадцать первого в 14', 'a day of the month said without its month'],
  ['в три с четвертью', '"с четвертью" is not read'],
  // A word that names a day the parser cannot place (each was read as today, or the next such weekday, silently):
  ['yesterday at 3', 'a day already past (was today at 15:00)'],
  ['the day before yesterday at 3', 'a day already past (was today at 15:00)'],
  ['two days ago at 3', 'a day already past'],
  ['вчера в 3', 'a day already past (was today at 15:00)'],
  ['позавчера в 15', 'a day already past (was today at 15:00)'],
  ['the beginning of this month at 10', 'that part of the month is over'],
  ['the end of next month at 3', 'which day of it'],
  ['monday at the end of next week', 'Monday is not at the end of the week'],
  ['tomorrow for 4h', 'a length of time, not 4 o\'clock'],
  ['this weekend at 10', 'which day of the weekend'],
  ['tomorrow from 10-12', 'a range, not 10:12'],
  ['Christmas Eve at 10', 'a holiday is not read (was tomorrow at 10:00)'],
  ["New Year's Day at 10", 'a holiday is not read (was tomorrow at 10:00)'],
  ['on Thanksgiving at 2 pm', 'a holiday is not read (was today at 14:00)'],
  ['Easter Monday at 10', 'a holiday is not read (was next Monday)'],
  ['the Monday after Easter at 10', 'a holiday is not read (was next Monday)'],
  ['на Рождество в 10', 'a holiday is not read'],
  ['на Пасху в 12', 'a holiday is not read'],
];

/** The company's country decides whether 6/12 is June 12 or December 6. */
const byZone: Array<[string, string, string]> = [
  ['6/12 at 2pm', 'Europe/Moscow', '2026-12-06T14:00'],
  ['12.06.2026 в 14:00', 'Europe/Moscow', '2026-06-12T14:00'],
  ['6/12 at 2pm', 'US/Eastern', '2026-06-12T14:00'],
  ['6/6 at 2pm', 'America/Toronto', '2026-06-06T14:00'],
];

describe('parseWhen', () => {
  it.each(exact)('%s → %s', (text, expected) => {
    const r = parseWhen(text, { now, zone });
    expect(r?.kind).toBe('exact');
    if (r?.kind === 'exact') expect(r.start.setZone(zone).toISO()).toBe(local(expected));
  });

  it.each(windows)('%s → %s window', (text, part, from, to) => {
    const r = parseWhen(text, { now, zone });
    expect(r?.kind).toBe('window');
    if (r?.kind === 'window') {
      expect(r.part).toBe(part);
      expect(r.from.toISO()).toBe(local(from));
      expect(r.to.toISO()).toBe(local(to));
    }
  });

  it.each(askAgain)('%s → null (%s)', (text) => {
    const zoneHere = text === '6/12 at 2pm' ? 'UTC' : zone;
    expect(parseWhen(text, { now, zone: zoneHere })).toBeNull();
  });

  it('a numeric date is null in a country that writes both orders, when the readings differ', () => {
    expect(parseWhen('6/12 at 2pm', { now, zone: 'America/Toronto' })).toBeNull();
  });

  it.each(byZone)('%s in %s → %s', (text, zoneHere, expected) => {
    const r = parseWhen(text, { now, zone: zoneHere });
    expect(r?.kind === 'exact' && r.start.setZone(zoneHere).toISO()).toBe(DateTime.fromISO(expected, { zone: zoneHere }).toISO());
  });

  it('"12.06" without a year is the next 12 June where the country writes the day first; a time said as one stays a time', () => {
    const read = (text: string, zoneHere: string, nowHere: Date = now) => {
      const r = parseWhen(text, { now: nowHere, zone: zoneHere });
      if (!r) return null;
      return r.kind === 'exact' ? r.start.setZone(zoneHere).toFormat("yyyy-MM-dd'T'HH:mm") : `${r.from.setZone(zoneHere).toISODate()} ${r.part}`;
    };
    expect(read('12.06', 'Europe/Moscow')).toBe('2026-06-12 day');
    expect(read('12.06 в 15:00', 'Europe/Moscow')).toBe('2026-06-12T15:00');
    expect(read('на 12.06, в три часа дня', 'Europe/Moscow')).toBe('2026-06-12T15:00');
    expect(read('12.06 at 2pm', 'Europe/London')).toBe('2026-06-12T14:00');
    expect(read('12/06 at 2pm', 'Europe/London')).toBe('2026-06-12T14:00');
    // Not in the past: 1 March is next year's on 4 March; today is today.
    expect(read('01.03 в 10:00', 'Europe/Moscow')).toBe('2027-03-01T10:00');
    expect(read('04.03 в 18:00', 'Europe/Moscow')).toBe('2026-03-04T18:00');
    // Where the order is unknown (Canada) both readings are days: asked again.
    expect(read('12.06', 'America/Toronto')).toBeNull();
    expect(read('13.06 at 2pm', 'America/Toronto')).toBe('2026-06-13T14:00');
    // A time: said as one, no such date, or where dates are written month first.
    expect(read('завтра в 12.10', 'Europe/Moscow')).toBe('2026-03-05T12:10');
    expect(read('в 10.30', 'Europe/Moscow')).toBe('2026-03-05T10:30');
    expect(read('12.06', 'America/New_York')).toBe('2026-03-04T12:06');
    // No such date, no time: asked again.
    expect(read('31.06', 'Europe/Moscow')).toBeNull();
    expect(read('31/06 at 2pm', 'Europe/London')).toBeNull();
  });

  it('a day a month lacks is asked again, not moved to another day', () => {
    const jan31 = DateTime.fromISO('2026-01-31T10:00', { zone }).toJSDate();
    expect(parseWhen('on the 30th at 10 am', { now: jan31, zone })).toBeNull();
    expect(parseWhen('the thirtieth of next month', { now: jan31, zone })).toBeNull();
    expect(parseWhen('the 31st of next month at 3 pm', { now, zone })).toBeNull(); // April has 30 days
    expect(parseWhen('the 2nd of this month at 3 pm', { now, zone })).toBeNull(); // past
    // 29 February: the next one is four years on, not the 28th of next year.
    const leapMarch = DateTime.fromISO('2028-03-01T10:00', { zone: 'Europe/London' }).toJSDate();
    expect(parseWhen('29/02 at 2pm', { now: leapMarch, zone: 'Europe/London' })).toBeNull();
  });

  it('"quarter to eight" and "at eight" agree on the morning; the evening said is kept', () => {
    const at = (text: string) => {
      const r = parseWhen(text, { now, zone });
      return r?.kind === 'exact' ? r.start.toFormat('HH:mm') : null;
    };
    expect([at('tomorrow at eight'), at('quarter to eight tomorrow')]).toEqual(['08:00', '07:45']);
    expect([at('tomorrow at quarter to eight pm'), at('завтра без четверти восемь вечера')]).toEqual(['19:45', '19:45']);
  });

  it('after a correction a lone number is the new hour on the day said before', () => {
    const r = parseWhen('Friday at 10, no wait, eleven thirty', { now, zone });
    expect(r?.kind === 'exact' && r.start.toISO()).toBe(local('2026-03-06T11:30'));
  });

  it('"the second one" picks an offer; it is no day of the month', () => {
    expect(parseWhen('the second one please', { now, zone })).toBeNull();
    expect(parseWhen('the first option', { now, zone })).toBeNull();
  });

  it('a word of a time left unread asks again; a length of time is no such word', () => {
    expect(parseWhen('tomorrow at 3, quarter to', { now, zone })).toBeNull();
    const r = parseWhen('tomorrow at 3, it takes half an hour or a quarter of an hour', { now, zone });
    expect(r?.kind === 'exact' && r.start.toISO()).toBe(local('2026-03-05T15:00'));
  });

  it('an ordinal is never an hour or minutes, even when a lone number would be the hour asked for', () => {
    const asked = (text: string) => parseWhen(text, { now, zone, bareHour: true });
    for (const text of ['the second one', 'the first one', 'the 2nd one', 'the third one please', 'second', 'the second option', 'that one', 'the last one']) {
      expect(asked(text), text).toBeNull();
    }
    // A lone number is still the hour asked for; "one" as a number, too.
    expect(asked('eleven')?.kind).toBe('exact');
    for (const text of ['one thirty', 'the one thirty']) {
      const one = asked(text);
      expect(one?.kind === 'exact' && one.start.toISO(), text).toBe(local('2026-03-04T13:30'));
    }
    // A day said with its ordinal stays a day.
    const day = parseWhen('on the first', { now, zone, bareHour: true });
    expect(day?.kind === 'window' && day.from.toISO()).toBe(local('2026-04-01T00:00'));
  });

  it('the small hours said as tonight\'s are the night after today once today\'s have passed; before they pass, today\'s', () => {
    // Evening: today's 1:00 and 2:00 are long gone (each was booked at today's 01:00/02:00, 19 hours in the past).
    const evening = DateTime.fromISO('2026-03-04T20:00', { zone }).toJSDate();
    const at = (text: string, when: Date) => {
      const r = parseWhen(text, { now: when, zone });
      return r?.kind === 'exact' ? r.start.toISO() : r;
    };
    expect(at('сегодня в 2 ночи', evening)).toBe(local('2026-03-05T02:00'));
    expect(at('today at 1 at night', evening)).toBe(local('2026-03-05T01:00'));
    expect(at('tonight at 1 am', evening)).toBe(local('2026-03-05T01:00'));
    expect(at('сегодня в 12 ночи', evening)).toBe(local('2026-03-05T00:00'));
    // Said at 00:30, today's 2:00 is still ahead: it is today's.
    const smallHours = DateTime.fromISO('2026-03-04T00:30', { zone }).toJSDate();
    expect(at('сегодня в 2 ночи', smallHours)).toBe(local('2026-03-04T02:00'));
    // Not said as the night's: the day said is kept, as before.
    expect(at('today at 3 pm', evening)).toBe(local('2026-03-04T15:00'));
    expect(at('tomorrow at 2 at night', evening)).toBe(local('2026-03-05T02:00'));
  });

  it('a date said as its night ("tomorrow night", "Friday night", "tonight"): an hour without am/pm is read as "at night" is, and its small hours are the next day\'s', () => {
    const evening = DateTime.fromISO('2026-03-04T20:00', { zone }).toJSDate();
    const at = (text: string, when: Date = now) => {
      const r = parseWhen(text, { now: when, zone });
      return r?.kind === 'exact' ? r.start.toISO() : r?.kind === 'window' ? `${r.from.toISO()}..${r.to.toISO()}` : r;
    };
    // Each was asked again for ever ("tomorrow night at 8"), or booked hours in the past ("tonight at 1" at 20:00 was 13:00 today).
    expect(at('tomorrow night at 8')).toBe(local('2026-03-05T20:00'));
    expect(at('friday night at 9')).toBe(local('2026-03-06T21:00'));
    expect(at('tomorrow night at 12')).toBe(local('2026-03-06T00:00'));
    expect(at('tomorrow night at 1')).toBe(local('2026-03-06T01:00'));
    expect(at('tonight at 1', evening)).toBe(local('2026-03-05T01:00'));
    expect(at('tonight at 12', evening)).toBe(local('2026-03-05T00:00'));
    expect(at('tonight at 9', evening)).toBe(local('2026-03-04T21:00'));
    // Said with am/pm, the hour is as said.
    expect(at('tomorrow night at 11 pm')).toBe(local('2026-03-05T23:00'));
    // Without an hour: that evening's window.
    expect(at('tomorrow night')).toBe(`${local('2026-03-05T17:00')}..${local('2026-03-06T00:00')}`);
    // "ночью" after a day stays a question (the night before or after it?).
    expect(at('завтра ночью в 2')).toBeNull();
  });

  it('a time said for "this morning" / "this afternoon" is today\'s even once it has passed, never moved to tomorrow', () => {
    const at3pm = DateTime.fromISO('2026-03-04T15:00', { zone }).toJSDate();
    const read = (text: string) => {
      const r = parseWhen(text, { now: at3pm, zone });
      return r?.kind === 'exact' ? r.start.setZone(zone).toISO() : r;
    };
    // Each was tomorrow's (the 5th): read back as "tomorrow at 2:00 PM" to a caller who said this afternoon.
    expect(read('this afternoon at 2')).toBe(local('2026-03-04T14:00'));
    expect(read('this morning at 9')).toBe(local('2026-03-04T09:00'));
    expect(read('this evening at 6')).toBe(local('2026-03-04T18:00'));
    // A bare hour that has passed is still the next one.
    expect(read('at 2')).toBe(local('2026-03-05T14:00'));
  });

  it('returns null for words without a time', () => {
    expect(parseWhen('hello there', { now, zone })).toBeNull();
    expect(parseWhen('может быть', { now, zone })).toBeNull();
  });

  it('keeps wall-clock time across the DST change (9 AM before and after 2026-03-08)', () => {
    const before = parseWhen('on Saturday at 9 am', { now, zone });
    const after = parseWhen('on Monday at 9 am', { now, zone });
    expect(before?.kind === 'exact' && before.start.offset).toBe(-300);
    expect(after?.kind === 'exact' && after.start.offset).toBe(-240);
  });
});

describe('foreignIsoOffset: an ISO time written with another zone\'s offset', () => {
  it('names the zone\'s offset for a Z or another offset, and nothing for the zone\'s own, none, or words', () => {
    expect(foreignIsoOffset('2026-03-05T15:00:00Z', 'America/New_York')).toBe('-05:00');
    expect(foreignIsoOffset('2026-07-05T15:00:00.000Z', 'America/New_York')).toBe('-04:00');
    expect(foreignIsoOffset('2026-03-05T15:00+03:00', 'America/New_York')).toBe('-05:00');
    expect(foreignIsoOffset('2026-03-05T15:00:00-05:00', 'America/New_York')).toBeNull();
    expect(foreignIsoOffset('2026-03-05T15:00:00', 'America/New_York')).toBeNull();
    expect(foreignIsoOffset('2026-03-05', 'America/New_York')).toBeNull();
    expect(foreignIsoOffset('tomorrow at 3 pm', 'America/New_York')).toBeNull();
    // A zone whose offset is UTC's then: a Z is its own.
    expect(foreignIsoOffset('2026-01-05T15:00:00Z', 'Europe/London')).toBeNull();
    expect(foreignIsoOffset('2026-07-05T15:00:00Z', 'Europe/London')).toBe('+01:00');
  });
});
