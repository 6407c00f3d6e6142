//! Demo content of the learning domain: a catalog of 48 published games across eight categories, ages 3 to 12 and
//! three difficulties; a curriculum of two learning paths whose modules require the ones before; and achievement
//! definitions of every rule kind a newcomer can earn by playing.

use lectern_learning::Learning;
use lectern_learning::achievements::{AchievementInput, Rule};
use lectern_learning::catalog::{Difficulty, GameInput};
use lectern_learning::curriculum::ModuleInput;

/// Who the seeded games name as their author.
const AUTHOR: &str = "seed";

/// (category, skills, title words, youngest age): six games each.
const CATEGORIES: [(&str, [&str; 2], [&str; 6], i32); 8] = [
    (
        "alphabets",
        ["letters", "phonics"],
        [
            "Letter Train",
            "Alphabet Garden",
            "Sound Safari",
            "Letter Hunt",
            "Rhyme Time",
            "Spelling Bees",
        ],
        3,
    ),
    (
        "numbers",
        ["counting", "adding"],
        [
            "Counting Stars",
            "Number Line",
            "Add It Up",
            "Take Away",
            "Times Tables",
            "Fraction Pizza",
        ],
        4,
    ),
    (
        "shapes",
        ["geometry", "spatial"],
        [
            "Shape Sorter",
            "Triangle Town",
            "Pattern Blocks",
            "Symmetry Mirror",
            "Tangram Tales",
            "Cube Builder",
        ],
        3,
    ),
    (
        "colours",
        ["colours", "art"],
        [
            "Colour Match",
            "Rainbow Mix",
            "Paint Pots",
            "Shade Finder",
            "Colour Memory",
            "Light and Dark",
        ],
        3,
    ),
    (
        "science",
        ["nature", "experiments"],
        [
            "Plant a Seed",
            "Float or Sink",
            "Weather Watch",
            "Animal Homes",
            "Magnet Magic",
            "Planet Tour",
        ],
        5,
    ),
    (
        "music",
        ["rhythm", "listening"],
        [
            "Drum Beats",
            "Piano Steps",
            "Sound Match",
            "Rhythm Copy",
            "Name That Tune",
            "Orchestra Builder",
        ],
        4,
    ),
    (
        "logic",
        ["reasoning", "memory"],
        [
            "Memory Cards",
            "Odd One Out",
            "Maze Runner",
            "Sudoku Junior",
            "Code Breaker",
            "Robot Paths",
        ],
        5,
    ),
    (
        "reading",
        ["vocabulary", "comprehension"],
        [
            "Word Builder",
            "Sight Words",
            "Story Order",
            "Picture Words",
            "Short Stories",
            "Book Quiz",
        ],
        4,
    ),
];

const DIFFICULTIES: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

/// Seeds the catalog, the curriculum and the achievements; answers how many games it published.
pub async fn seed(learning: &Learning) -> anyhow::Result<usize> {
    let mut published = Vec::new();
    for (category, skills, titles, youngest) in CATEGORIES {
        for (n, title) in titles.into_iter().enumerate() {
            let n = n as i32;
            let min_age = youngest + n;
            let input = GameInput {
                title: title.into(),
                description: format!("{title}: a {category} game."),
                rules: "Tap, drag and listen; three stars for a perfect round.".into(),
                min_age,
                max_age: (min_age + 3).min(12),
                category: category.into(),
                skills: skills
                    .iter()
                    .take(1 + (n % 2) as usize)
                    .map(|s| s.to_string())
                    .collect(),
                difficulty: DIFFICULTIES[(n / 2) as usize],
                estimated_minutes: 5 + n * 2,
                assets: Vec::new(),
                locales: Default::default(),
                variants: Vec::new(),
            };
            let game = learning.create_game(AUTHOR, input).await?;
            let game = learning.publish_game(&game.game_id).await?;
            published.push((category, game.game_id));
        }
    }
    let of = |category: &str, range: std::ops::Range<usize>| -> Vec<String> {
        published
            .iter()
            .filter(|(c, _)| *c == category)
            .map(|(_, id)| id.clone())
            .skip(range.start)
            .take(range.len())
            .collect()
    };
    // Two paths of three modules, each requiring the one before.
    for (path, category) in [("reading", "alphabets"), ("maths", "numbers")] {
        let mut previous: Option<String> = None;
        for (order, (title, games)) in [
            ("First steps", 0..2),
            ("Getting better", 2..4),
            ("Champion", 4..6),
        ]
        .into_iter()
        .enumerate()
        {
            let module = learning
                .create_module(ModuleInput {
                    path: path.into(),
                    title: format!("{title} in {path}"),
                    description: String::new(),
                    order: order as i32 + 1,
                    games: of(category, games),
                    prerequisites: previous.iter().cloned().collect(),
                    min_stars: 2,
                })
                .await?;
            previous = Some(module.module_id);
        }
    }
    let achievements = [
        ("First win", Rule::FirstCompletion),
        ("Ten wins", Rule::Completions { count: 10 }),
        ("Three days in a row", Rule::Streak { days: 3 }),
        ("An hour of play", Rule::TotalTime { seconds: 3600 }),
        (
            "Shape master",
            Rule::CategoryComplete {
                category: "shapes".into(),
            },
        ),
        (
            "Star counter",
            Rule::ScoreAtLeast {
                game_id: of("numbers", 0..1).remove(0),
                score: 900,
            },
        ),
    ];
    for (name, rule) in achievements {
        learning
            .create_achievement(AchievementInput {
                name: name.into(),
                description: String::new(),
                icon: format!("icons/{}.png", name.to_lowercase().replace(' ', "-")),
                rule,
            })
            .await?;
    }
    Ok(published.len())
}
