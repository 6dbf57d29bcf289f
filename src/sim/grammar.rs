//! Built-in text: a small grammar that writes varied chat questions, coding questions, maths word
//! problems and instruction-style tasks, so a run needs no corpus files.

use rand::Rng;
use rand::seq::IndexedRandom;

fn p<'a, R: Rng>(rng: &mut R, xs: &'a [&'a str]) -> &'a str {
    xs.choose(rng).copied().unwrap_or("")
}

static NAMES: &[&str] = &[
    "Maria", "James", "Aisha", "Chen", "Liam", "Sofia", "Ravi", "Emma", "Kenji", "Olivia", "Mateo",
    "Fatima", "Noah", "Chloe", "Diego", "Hannah", "Yuki", "Omar", "Grace", "Lucas", "Priya", "Ben",
    "Zoe", "Ahmed", "Nina", "Tom", "Ingrid", "Carlos", "Mei", "Jack",
];
static CITIES: &[&str] = &[
    "Lisbon",
    "Tokyo",
    "Mexico City",
    "Prague",
    "Cape Town",
    "Vancouver",
    "Bangkok",
    "Rome",
    "Istanbul",
    "Seoul",
    "Edinburgh",
    "Buenos Aires",
    "Marrakech",
    "Copenhagen",
    "Hanoi",
    "Barcelona",
    "Sydney",
    "Chicago",
    "Vienna",
    "Bali",
    "Reykjavik",
    "Kyoto",
    "Porto",
];
static MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
static DISHES: &[&str] = &[
    "lasagna",
    "banana bread",
    "pad thai",
    "a vegetable curry",
    "pancakes",
    "risotto",
    "chili",
    "sourdough bread",
    "brownies",
    "a quiche",
    "fried rice",
    "shakshuka",
    "tacos",
    "a lemon tart",
];
static INGREDIENTS: &[&str] = &[
    "eggs",
    "butter",
    "chickpeas",
    "spinach",
    "rice",
    "tofu",
    "chicken thighs",
    "sweet potatoes",
    "canned tomatoes",
    "feta",
    "lentils",
    "mushrooms",
    "coconut milk",
    "frozen peas",
    "oats",
];
static SYMPTOMS: &[&str] = &[
    "sore throat",
    "headache",
    "lower back pain",
    "dry cough",
    "stiff neck",
    "rash on my arm",
    "trouble sleeping",
    "sore knee after running",
    "blocked nose",
];
static RELATIONS: &[&str] = &[
    "partner",
    "sister",
    "roommate",
    "best friend",
    "mom",
    "dad",
    "coworker",
    "teenage son",
    "boyfriend",
    "girlfriend",
    "neighbour",
];
static RELPROBS: &[&str] = &[
    "keeps cancelling plans at the last minute",
    "never helps with the dishes",
    "borrowed money and hasn't paid it back",
    "seems distant lately",
    "is always on their phone at dinner",
    "forgot my birthday",
];
static HOBBIES: &[&str] = &[
    "gardening",
    "hiking",
    "photography",
    "board games",
    "baking",
    "jazz",
    "cycling",
    "reading",
    "knitting",
    "video games",
    "yoga",
    "fishing",
];
static CONCEPTS: &[&str] = &[
    "photosynthesis",
    "inflation",
    "supply and demand",
    "plate tectonics",
    "natural selection",
    "compound interest",
    "the water cycle",
    "opportunity cost",
    "the greenhouse effect",
    "mitosis",
    "the electoral college",
    "quantum entanglement",
    "black holes",
    "vaccines",
    "the French Revolution",
    "cognitive dissonance",
    "machine learning",
    "blockchain",
    "the Pythagorean theorem",
    "osmosis",
    "interest rates",
    "the immune system",
    "tides",
    "the Cold War",
    "derivatives in calculus",
    "probability",
    "encryption",
    "the stock market",
];
static DEVICES: &[&str] = &[
    "laptop",
    "iPhone",
    "wifi router",
    "printer",
    "Android phone",
    "smart TV",
    "PS5",
    "Windows PC",
];
static DEVPROBS: &[&str] = &[
    "keeps disconnecting from the wifi",
    "is really slow since the last update",
    "won't turn on",
    "battery drains in a few hours",
    "makes a clicking noise",
    "shows a black screen after the logo",
];
static GENRES: &[&str] = &[
    "sci-fi",
    "mystery",
    "fantasy",
    "historical fiction",
    "comedy",
    "thriller",
    "romance",
    "non-fiction",
    "horror",
];
static ANIMALS: &[&str] = &[
    "octopuses",
    "crows",
    "elephants",
    "axolotls",
    "bees",
    "otters",
    "sharks",
    "cats",
    "owls",
    "tardigrades",
];
static LANGS: &[&str] = &[
    "Python",
    "JavaScript",
    "TypeScript",
    "Rust",
    "Go",
    "Java",
    "C#",
    "SQL",
    "Bash",
    "Kotlin",
    "C++",
];
static HUMAN_LANGS: &[&str] = &[
    "Spanish",
    "French",
    "German",
    "Japanese",
    "Portuguese",
    "Italian",
];

/// The opening message of an ordinary chat.
pub(crate) fn chat_question<R: Rng>(rng: &mut R) -> String {
    let n = rng.random_range(2..15);
    let q = match rng.random_range(0..24) {
        0 => format!(
            "I'm planning a {n}-day trip to {} in {}. What should I not miss?",
            p(rng, CITIES),
            p(rng, MONTHS)
        ),
        1 => format!(
            "What's the cheapest way to get from the airport to the city centre in {}?",
            p(rng, CITIES)
        ),
        2 => format!(
            "Is {} a good time to visit {}? I'm on a tight budget",
            p(rng, MONTHS),
            p(rng, CITIES)
        ),
        3 => format!(
            "How do I make {} without {}?",
            p(rng, DISHES),
            p(rng, INGREDIENTS)
        ),
        4 => format!(
            "What can I cook tonight with {}, {} and {}?",
            p(rng, INGREDIENTS),
            p(rng, INGREDIENTS),
            p(rng, INGREDIENTS)
        ),
        5 => format!(
            "Give me a simple {} recipe for {} people",
            p(rng, DISHES),
            rng.random_range(2..7)
        ),
        6 => format!(
            "I've had a {} for {n} days. Should I see a doctor?",
            p(rng, SYMPTOMS)
        ),
        7 => format!(
            "What are some good exercises for {}?",
            p(
                rng,
                &[
                    "lower back pain",
                    "posture",
                    "bad knees",
                    "a stiff neck",
                    "core strength"
                ]
            )
        ),
        8 => format!(
            "My {} {}. How do I talk to them about it without starting a fight?",
            p(rng, RELATIONS),
            p(rng, RELPROBS)
        ),
        9 => format!(
            "What's a thoughtful gift for my {} who loves {}? Budget around ${}",
            p(rng, RELATIONS),
            p(rng, HOBBIES),
            rng.random_range(2..20) * 10
        ),
        10 => format!(
            "Help me write an email to my {} asking for {}",
            p(
                rng,
                &["manager", "landlord", "professor", "team lead", "client"]
            ),
            p(
                rng,
                &[
                    "a day off next Friday",
                    "an extension on the deadline",
                    "a raise",
                    "feedback on my proposal",
                    "a meeting to discuss the budget"
                ]
            )
        ),
        11 => format!(
            "Rewrite this so it sounds more professional: \"{}\"",
            p(
                rng,
                &[
                    "hey, sorry i missed the call, can we do tmrw?",
                    "i need the report asap, its late again",
                    "cant make it to the meeting, something came up",
                    "thanks for the stuff you sent, looks good i guess"
                ]
            )
        ),
        12 => format!("Can you explain {} in simple terms?", p(rng, CONCEPTS)),
        13 => format!(
            "I have to write an essay about {}. How should I structure it?",
            p(rng, CONCEPTS)
        ),
        14 => format!("Tell me a few fun facts about {}", p(rng, ANIMALS)),
        15 => format!("Recommend some {} books for a long flight", p(rng, GENRES)),
        16 => format!(
            "My {} {}. What can I do?",
            p(rng, DEVICES),
            p(rng, DEVPROBS)
        ),
        17 => format!(
            "Should I pay off my {} first or start investing?",
            p(
                rng,
                &["student loan", "credit card", "car loan", "mortgage"]
            )
        ),
        18 => format!(
            "How do I get started with {}? I'm a complete beginner",
            p(rng, HOBBIES)
        ),
        19 => format!(
            "What's the difference between {} and {}?",
            p(rng, CONCEPTS),
            p(rng, CONCEPTS)
        ),
        20 => format!(
            "Can you suggest a name for my {} {}?",
            p(rng, &["new", "little", "rescue"]),
            p(
                rng,
                &["puppy", "kitten", "bakery", "podcast", "band", "boat"]
            )
        ),
        21 => format!(
            "Write a short birthday message for my {} who is turning {}",
            p(rng, RELATIONS),
            rng.random_range(8..80)
        ),
        22 => format!(
            "How do you say \"{}\" in {}?",
            p(
                rng,
                &[
                    "where is the train station",
                    "I'm allergic to nuts",
                    "can I have the bill please",
                    "nice to meet you"
                ]
            ),
            p(rng, HUMAN_LANGS)
        ),
        _ => format!(
            "Plan a {n}-week {} routine for someone who {}",
            p(rng, &["running", "strength training", "study", "sleep"]),
            p(
                rng,
                &[
                    "works night shifts",
                    "has two kids",
                    "is just starting out",
                    "travels a lot"
                ]
            )
        ),
    };
    decorate(rng, q)
}

/// People type openers, forget capitals, add thanks.
fn decorate<R: Rng>(rng: &mut R, q: String) -> String {
    let pre = p(
        rng,
        &[
            "",
            "",
            "",
            "",
            "hey, ",
            "hi! ",
            "quick question: ",
            "ok so ",
            "Hello. ",
        ],
    );
    let post = p(
        rng,
        &[
            "",
            "",
            "",
            "",
            " thanks!",
            " Keep it short please.",
            " thx",
            " Any ideas?",
            " :)",
        ],
    );
    let body = if rng.random_bool(0.15) {
        q.to_lowercase()
    } else {
        q
    };
    format!("{pre}{body}{post}")
}

/// A follow-up turn in a conversation.
pub(crate) fn followup<R: Rng>(rng: &mut R) -> String {
    match rng.random_range(0..14) {
        0 => "Can you make it shorter?".into(),
        1 => format!(
            "What if I only have {} {}?",
            rng.random_range(2..40),
            p(rng, &["minutes", "dollars", "euros", "days", "hours"])
        ),
        2 => "Can you explain the second point in more detail?".into(),
        3 => "thanks! how much would that cost roughly?".into(),
        4 => "Could you put that in a table?".into(),
        5 => "why?".into(),
        6 => "That didn't work. Any other ideas?".into(),
        7 => format!("Great, can you translate that to {}?", p(rng, HUMAN_LANGS)),
        8 => "ok and what should I avoid?".into(),
        9 => "Can you give me an example?".into(),
        10 => "Make it more casual please".into(),
        11 => format!(
            "What about for {}?",
            p(
                rng,
                &[
                    "kids",
                    "a beginner",
                    "someone older",
                    "a small apartment",
                    "winter"
                ]
            )
        ),
        12 => "is that safe?".into(),
        _ => "Perfect, thank you!".into(),
    }
}

static CODE_TASKS: &[&str] = &[
    "read a CSV file and skip the header",
    "parse JSON from an HTTP response",
    "debounce a function",
    "sort a list of objects by two keys",
    "retry a request with exponential backoff",
    "connect to PostgreSQL with a connection pool",
    "upload a file to S3",
    "write unit tests for a function that calls an API",
    "handle timezones correctly when storing timestamps",
    "stream a large file without loading it into memory",
    "deduplicate a list while keeping order",
    "run tasks concurrently with a limit",
    "validate an email address",
    "paginate results from a REST API",
    "set up logging to a file and the console",
    "mock the current time in tests",
];
static ERRORS: &[&str] = &[
    "TypeError: 'NoneType' object is not subscriptable",
    "cannot borrow `x` as mutable more than once at a time",
    "Uncaught (in promise) TypeError: Failed to fetch",
    "java.lang.NullPointerException",
    "fatal: refusing to merge unrelated histories",
    "ModuleNotFoundError: No module named 'requests'",
    "CORS policy: No 'Access-Control-Allow-Origin' header is present",
    "error[E0382]: use of moved value",
    "panic: runtime error: index out of range",
    "SyntaxError: Unexpected token '<'",
];
static PAIRS: &[(&str, &str)] = &[
    ("a list", "a tuple"),
    ("let", "const"),
    ("an interface", "an abstract class"),
    ("async/await", "threads"),
    ("INNER JOIN", "LEFT JOIN"),
    ("a process", "a thread"),
    ("== ", "==="),
    ("Box", "Rc"),
    ("a goroutine", "an OS thread"),
    ("merge", "rebase"),
];

/// A developer's question.
pub(crate) fn coding_question<R: Rng>(rng: &mut R) -> String {
    let lang = p(rng, LANGS);
    match rng.random_range(0..7) {
        0 => format!("How do I {} in {lang}?", p(rng, CODE_TASKS)),
        1 => format!(
            "Why am I getting `{}` here? I'm trying to {}",
            p(rng, ERRORS),
            p(rng, CODE_TASKS)
        ),
        2 => {
            let (a, b) = *PAIRS.choose(rng).unwrap_or(&PAIRS[0]);
            format!("What's the difference between {a} and {b} in {lang}?")
        }
        3 => format!("Write a {lang} function that {}", code_spec(rng)),
        4 => format!(
            "Can you review this and suggest improvements?\n\n{}",
            snippet(rng)
        ),
        5 => format!("Convert this to {lang}:\n\n{}", snippet(rng)),
        _ => format!(
            "What's the best way to {} in {lang}? Performance matters",
            p(rng, CODE_TASKS)
        ),
    }
}

static SPEC_VERBS: &[&str] = &[
    "returns the second largest number in a list",
    "checks whether a string is a palindrome",
    "counts the vowels in a string",
    "merges two sorted lists",
    "finds the longest common prefix of a list of strings",
    "removes duplicate characters from a string",
    "computes the nth Fibonacci number",
    "rotates a matrix by 90 degrees",
    "checks whether two strings are anagrams",
    "flattens a nested list",
    "returns the sum of the digits of a number",
    "finds all pairs in an array that sum to a target",
    "converts a Roman numeral to an integer",
    "groups words by their first letter",
    "finds the missing number in a sequence",
    "counts the words in a sentence",
    "checks whether a number is prime",
    "returns the k most frequent elements",
];

fn code_spec<R: Rng>(rng: &mut R) -> String {
    p(rng, SPEC_VERBS).to_string()
}

fn snippet<R: Rng>(rng: &mut R) -> String {
    let name = p(
        rng,
        &[
            "process",
            "filter_items",
            "load",
            "compute",
            "parse_rows",
            "handle",
        ],
    );
    let n = rng.random_range(1..100);
    let op = p(rng, &[">", "<", "==", "!="]);
    match rng.random_range(0..3) {
        0 => format!(
            "def {name}(xs):\n    out = []\n    for x in xs:\n        if x {op} {n}:\n            out.append(x)\n    return out"
        ),
        1 => format!(
            "function {name}(items) {{\n  let r = [];\n  for (let i = 0; i < items.length; i++) {{\n    if (items[i].v {op} {n}) r.push(items[i]);\n  }}\n  return r;\n}}"
        ),
        _ => format!(
            "SELECT * FROM orders o, customers c WHERE o.cid = c.id AND o.total {op} {n} ORDER BY o.created_at"
        ),
    }
}

/// An MBPP-style task and assertion lines.
pub(crate) fn code_task<R: Rng>(rng: &mut R) -> (String, Vec<String>) {
    let spec = p(rng, SPEC_VERBS);
    let fname: String = spec
        .split_whitespace()
        .take(3)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect::<Vec<_>>()
        .join("_");
    let text = format!(
        "Write a {}function that {spec}.",
        p(rng, &["", "python ", ""])
    );
    let tests = (0..3)
        .map(|_| {
            format!(
                "assert {fname}([{}, {}, {}]) == {}",
                rng.random_range(0..50),
                rng.random_range(0..50),
                rng.random_range(0..50),
                rng.random_range(0..50)
            )
        })
        .collect();
    (text, tests)
}

static ITEMS: &[&str] = &[
    "marbles",
    "stickers",
    "apples",
    "cupcakes",
    "books",
    "pencils",
    "tomato plants",
    "trading cards",
    "cookies",
    "shells",
];

/// A grade-school word problem and its worked answer.
pub(crate) fn math_problem<R: Rng>(rng: &mut R) -> (String, String) {
    let name = p(rng, NAMES);
    let other = p(rng, NAMES);
    let item = p(rng, ITEMS);
    let a: i64 = rng.random_range(3..60);
    let b: i64 = rng.random_range(2..12);
    let c: i64 = rng.random_range(2..15);
    match rng.random_range(0..7) {
        0 => (
            format!(
                "{name} has {a} {item}. {name} buys {b} packs with {c} {item} in each pack. How many {item} does {name} have now?"
            ),
            format!(
                "{name} buys {b} * {c} = {} {item}. In total {a} + {} = {}.\n#### {}",
                b * c,
                b * c,
                a + b * c,
                a + b * c
            ),
        ),
        1 => (
            format!(
                "{name} earns ${a} an hour and works {b} hours a day, {c} days a month. How much does {name} earn in a month?"
            ),
            format!(
                "Per day: {a} * {b} = {}. Per month: {} * {c} = {}.\n#### {}",
                a * b,
                a * b,
                a * b * c,
                a * b * c
            ),
        ),
        2 => {
            let speed = a + 20;
            (
                format!(
                    "A train travels {} km in {b} hours. At the same speed, how far does it travel in {c} hours?",
                    speed * b
                ),
                format!(
                    "Speed is {} / {b} = {speed} km/h. In {c} hours: {speed} * {c} = {} km.\n#### {}",
                    speed * b,
                    speed * c,
                    speed * c
                ),
            )
        }
        3 => {
            let pages = 3 * a + rng.random_range(10..200);
            (
                format!(
                    "{name} read {a} pages of a {pages}-page book on Monday and twice as many on Tuesday. How many pages are left?"
                ),
                format!(
                    "Tuesday: 2 * {a} = {}. Read so far: {a} + {} = {}. Left: {pages} - {} = {}.\n#### {}",
                    2 * a,
                    2 * a,
                    3 * a,
                    3 * a,
                    pages - 3 * a,
                    pages - 3 * a
                ),
            )
        }
        4 => {
            let bill = (b * c / 10 + 1) * 10 + 10;
            (
                format!(
                    "A shop sells {item} for ${b} each. {name} buys {c} of them and pays with a ${bill} bill. How much change does {name} get?"
                ),
                format!(
                    "Cost: {b} * {c} = {}. Change: {bill} - {} = {}.\n#### {}",
                    b * c,
                    b * c,
                    bill - b * c,
                    bill - b * c
                ),
            )
        }
        5 => {
            let total = (a / 5 + 2) * 20;
            let pct = 5 * rng.random_range(2..18);
            let girls = total * pct / 100;
            (
                format!(
                    "There are {total} students in a school club. {pct}% of them are girls. How many boys are in the club?"
                ),
                format!(
                    "Girls: {total} * {pct} / 100 = {girls}. Boys: {total} - {girls} = {}.\n#### {}",
                    total - girls,
                    total - girls
                ),
            )
        }
        _ => (
            format!(
                "{name} has {a} {item} and gives {other} {b} of them. Then {other} gives back half of what {name} gave. How many {item} does {name} have?"
            ),
            format!(
                "After giving: {a} - {b} = {}. Back: {b} / 2 = {}. Total: {}.\n#### {}",
                a - b,
                b / 2,
                a - b + b / 2,
                a - b + b / 2
            ),
        ),
    }
}

static FORMS: &[&str] = &[
    "haiku",
    "short poem",
    "limerick",
    "product description",
    "tweet",
    "short story opening",
    "motivational quote",
    "slogan",
];
static TOPICS: &[&str] = &[
    "autumn",
    "a rainy city",
    "friendship",
    "the ocean",
    "coffee",
    "space travel",
    "a lost key",
    "remote work",
    "electric cars",
    "a mountain village",
    "time",
    "recycling",
];
static CATEGORIES: &[&str] = &[
    "renewable energy sources",
    "mammals that live in water",
    "programming paradigms",
    "Renaissance painters",
    "types of clouds",
    "logical fallacies",
    "musical instruments",
    "leadership styles",
    "sorting algorithms",
    "marketing channels",
];
static JOBS: &[&str] = &[
    "data analyst",
    "nurse",
    "software engineer",
    "sales manager",
    "teacher",
    "graphic designer",
    "accountant",
    "project manager",
];

/// An instruction-style task, possibly with an input passage.
pub(crate) fn instruction<R: Rng>(rng: &mut R) -> (String, Option<String>) {
    match rng.random_range(0..14) {
        0 => (
            format!("Write a {} about {}.", p(rng, FORMS), p(rng, TOPICS)),
            None,
        ),
        1 => (
            format!(
                "Explain {} to a {}.",
                p(rng, CONCEPTS),
                p(
                    rng,
                    &[
                        "ten-year-old",
                        "high school student",
                        "complete beginner",
                        "business audience"
                    ]
                )
            ),
            None,
        ),
        2 => (
            format!(
                "List {} interesting facts about {}.",
                rng.random_range(3..8),
                p(rng, ANIMALS)
            ),
            None,
        ),
        3 => (
            format!("Give three examples of {}.", p(rng, CATEGORIES)),
            None,
        ),
        4 => (
            "Classify the following animal as a mammal, bird, reptile or fish.".into(),
            Some(
                p(
                    rng,
                    &[
                        "Dolphin", "Penguin", "Gecko", "Salmon", "Bat", "Ostrich", "Turtle",
                    ],
                )
                .into(),
            ),
        ),
        5 => (
            "Summarize the following text in one sentence.".into(),
            Some(paragraph(rng)),
        ),
        6 => (
            format!(
                "Compare and contrast {} and {}.",
                p(rng, CONCEPTS),
                p(rng, CONCEPTS)
            ),
            None,
        ),
        7 => (
            format!(
                "Suggest five names for a {}.",
                p(
                    rng,
                    &[
                        "coffee shop",
                        "fitness app",
                        "bookstore",
                        "travel blog",
                        "bakery",
                        "cleaning company"
                    ]
                )
            ),
            None,
        ),
        8 => (
            "Rewrite the following sentence in the passive voice.".into(),
            Some(sentence(rng)),
        ),
        9 => (
            format!(
                "Generate a list of interview questions for a {}.",
                p(rng, JOBS)
            ),
            None,
        ),
        10 => (
            format!(
                "Describe the process of {}.",
                p(
                    rng,
                    &[
                        "making paper",
                        "brewing beer",
                        "how a bill becomes law",
                        "cellular respiration",
                        "composting",
                        "building a website"
                    ]
                )
            ),
            None,
        ),
        11 => (
            format!(
                "What are the main causes of {}?",
                p(
                    rng,
                    &[
                        "inflation",
                        "deforestation",
                        "the First World War",
                        "climate change",
                        "urban traffic congestion",
                        "burnout"
                    ]
                )
            ),
            None,
        ),
        12 => (
            "Translate the following sentence into French.".into(),
            Some(sentence(rng)),
        ),
        _ => (
            format!(
                "Write a persuasive paragraph arguing for {}.",
                p(
                    rng,
                    &[
                        "a four-day work week",
                        "public libraries",
                        "learning a second language",
                        "banning cars in city centres",
                        "school uniforms"
                    ]
                )
            ),
            None,
        ),
    }
}

/// A short plain sentence.
pub(crate) fn sentence<R: Rng>(rng: &mut R) -> String {
    let s = p(
        rng,
        &[
            "The committee",
            "My neighbour",
            "Our team",
            "The chef",
            "A small company",
            "The students",
            "The mayor",
        ],
    );
    let v = p(
        rng,
        &[
            "approved",
            "cooked",
            "finished",
            "announced",
            "repaired",
            "delivered",
            "wrote",
        ],
    );
    let o = p(
        rng,
        &[
            "the new budget",
            "a three-course dinner",
            "the quarterly report",
            "the results",
            "the old bridge",
            "the package",
            "a long letter",
        ],
    );
    let t = p(
        rng,
        &[
            "yesterday",
            "last week",
            "on Monday",
            "this morning",
            "before the deadline",
            "in record time",
        ],
    );
    format!("{s} {v} {o} {t}.")
}

fn paragraph<R: Rng>(rng: &mut R) -> String {
    let n = rng.random_range(2..5);
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

/// A customer-support ticket as a helpdesk exports it.
pub(crate) fn support_ticket<R: Rng>(rng: &mut R) -> String {
    let product = p(
        rng,
        &[
            "wireless headphones",
            "a standing desk",
            "the premium plan",
            "a coffee grinder",
            "running shoes",
            "a phone case",
            "the mobile app",
        ],
    );
    let problem = p(
        rng,
        &[
            "arrived damaged",
            "stopped working after a week",
            "was charged twice",
            "never arrived",
            "is missing a part",
            "keeps logging me out",
        ],
    );
    let tried = p(
        rng,
        &[
            "restarted it",
            "contacted the courier",
            "checked my bank statement",
            "followed the manual",
            "reinstalled the app",
        ],
    );
    let want = p(
        rng,
        &[
            "a refund",
            "a replacement",
            "someone to call me",
            "an explanation",
            "to cancel my subscription",
        ],
    );
    format!(
        "Ticket #{}\nFrom: {}\nSubject: {product} {problem}\n\nHi, my {product} {problem}. I already {tried} but nothing changed. I would like {want}. Order {}-{}.",
        rng.random_range(10000..99999),
        p(rng, NAMES),
        rng.random_range(100..999),
        rng.random_range(100000..999999)
    )
}

/// A short product listing for description writers.
pub(crate) fn product_listing<R: Rng>(rng: &mut R) -> String {
    format!(
        "Product: {} {}\nColour: {}\nMaterial: {}\nPrice: ${}.99",
        p(
            rng,
            &[
                "Ergonomic",
                "Compact",
                "Handmade",
                "Waterproof",
                "Organic",
                "Vintage-style"
            ]
        ),
        p(
            rng,
            &[
                "backpack",
                "desk lamp",
                "tea set",
                "yoga mat",
                "wallet",
                "water bottle",
                "throw blanket"
            ]
        ),
        p(rng, &["black", "sage green", "navy", "sand", "terracotta"]),
        p(
            rng,
            &[
                "recycled polyester",
                "oak",
                "stainless steel",
                "cotton",
                "ceramic",
                "leather"
            ]
        ),
        rng.random_range(9..200)
    )
}

/// A support-inbox e-mail for triage.
pub(crate) fn inbox_email<R: Rng>(rng: &mut R) -> String {
    format!(
        "Subject: {}\n\n{} {}",
        p(
            rng,
            &[
                "Question about my invoice",
                "Partnership idea",
                "Can't log in",
                "Feedback",
                "Urgent: order status",
                "Job application"
            ]
        ),
        p(
            rng,
            &["Hello,", "Hi team,", "Dear support,", "Good morning,"]
        ),
        paragraph(rng)
    )
}

/// A question a business user asks about their data.
pub(crate) fn sql_question<R: Rng>(rng: &mut R) -> String {
    format!(
        "{} {} {}",
        p(
            rng,
            &["Show me", "How many", "List", "What is the total of"]
        ),
        p(
            rng,
            &["orders", "customers", "refunds", "active users", "invoices"]
        ),
        p(
            rng,
            &[
                "from last month",
                "by country",
                "over $500",
                "per week this year",
                "that churned in Q4",
                "grouped by product"
            ]
        )
    )
}

/// Step-by-step explanation requests as people at work phrase them.
pub(crate) fn explain_request<R: Rng>(rng: &mut R) -> String {
    match rng.random_range(0..4) {
        0 => format!(
            "Can you explain step by step how {} works?",
            p(rng, CONCEPTS)
        ),
        1 => format!(
            "Walk me through how to calculate {} step by step",
            p(
                rng,
                &[
                    "compound interest on a loan",
                    "the break-even point",
                    "VAT on an invoice",
                    "a weighted average",
                    "year-over-year growth"
                ]
            )
        ),
        2 => format!(
            "Explain {} like I'm new to it, one step at a time",
            p(rng, CONCEPTS)
        ),
        _ => {
            let (q, _) = math_problem(rng);
            format!("My kid asked me this and I'm stuck, can you show the steps? {q}")
        }
    }
}

/// A task an autonomous agent is asked to carry out with tools.
pub(crate) fn agent_task<R: Rng>(rng: &mut R) -> String {
    match rng.random_range(0..6) {
        0 => format!(
            "Find the cheapest flight from {} to {} next {} and add it to my calendar.",
            p(rng, CITIES),
            p(rng, CITIES),
            p(rng, MONTHS)
        ),
        1 => format!(
            "What's the weather in {} this weekend, and should I move Saturday's {} indoors?",
            p(rng, CITIES),
            p(
                rng,
                &[
                    "barbecue",
                    "football practice",
                    "wedding photos",
                    "market stall"
                ]
            )
        ),
        2 => format!(
            "Look up all orders from customer {} in the last {} days and email a summary to their account manager.",
            rng.random_range(1000..99999),
            rng.random_range(7..90)
        ),
        3 => format!(
            "Search the docs for how to rotate API keys, then open a ticket for the {} team with the steps.",
            p(rng, &["platform", "security", "billing", "mobile"])
        ),
        4 => format!(
            "Book a table for {} at a {} restaurant in {} tomorrow at {}pm.",
            rng.random_range(2..9),
            p(rng, &["Italian", "Thai", "vegan", "seafood"]),
            p(rng, CITIES),
            rng.random_range(6..10)
        ),
        _ => format!(
            "Compute the average {} per region from the sales database and plot it.",
            p(rng, &["revenue", "order size", "discount", "return rate"])
        ),
    }
}
