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

const KNOWN = new Set([...FIRST_NAMES, ...SURNAMES]);

/** Is this word (any case) a common first name or surname? */
export const isCommonName = (word: string): boolean => KNOWN.has(word.toLowerCase());
