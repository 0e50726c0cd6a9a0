// Word lists for Experiment 1 people, written for this project. First names are ordinary or
// old-fashioned given names; last names are invented compounds ("Quillfeather") so that a
// random pairing does not name a real celebrity. Descriptions are composed as
// "the <adjective> <role> '<title head> of <title tail>'", every part invented here.
#include "common/data/exp1_data.h"

namespace revsweep {

const std::vector<std::string>& FirstNamePool() {
  static const std::vector<std::string> kNames = {
      "Ada",       "Adele",      "Adrian",      "Agatha",    "Alaric",     "Albin",
      "Alden",     "Alma",       "Alvar",       "Amara",     "Ambrose",    "Amelie",
      "Anika",     "Ansel",      "Anton",       "Araminta",  "Arden",      "Ariel",
      "Arlo",      "Astrid",     "Aurelia",     "Basil",     "Beatrix",    "Bellamy",
      "Benedict",  "Bianca",     "Blythe",      "Bram",      "Briar",      "Bronwen",
      "Cael",      "Calla",      "Cassian",     "Celeste",   "Cedric",     "Clara",
      "Clement",   "Colette",    "Constance",   "Corin",     "Cosima",     "Cyril",
      "Dahlia",    "Damaris",    "Darcy",       "Delphine",  "Desmond",    "Dorian",
      "Dulcie",    "Edmund",     "Elodie",      "Elspeth",   "Emeric",     "Enid",
      "Ephraim",   "Esme",       "Estella",     "Evander",   "Fabian",     "Felicity",
      "Fenella",   "Ferris",     "Fiona",       "Florian",   "Freya",      "Gareth",
      "Gideon",    "Ginevra",    "Greer",       "Griffin",   "Gwendolyn",  "Hale",
      "Hamish",    "Harriet",    "Hector",      "Helena",    "Henrik",     "Hollis",
      "Honora",    "Ida",        "Ignatius",    "Imogen",    "Ines",       "Ingram",
      "Iona",      "Isadora",    "Ivo",         "Jasper",    "Jessamy",    "Joaquin",
      "Jolene",    "Jonas",      "Josephine",   "Jude",      "Juniper",    "Kasimir",
      "Keziah",    "Kit",        "Lachlan",     "Lavinia",   "Leander",    "Leopold",
      "Linnea",    "Lorcan",     "Lucian",      "Lydia",     "Lysander",   "Mabel",
      "Magnus",    "Malachi",    "Marisol",     "Marius",    "Matilda",    "Maximilian",
      "Meredith",  "Mireille",   "Montague",    "Morwenna",  "Nadia",      "Nathaniel",
      "Nell",      "Nerissa",    "Niamh",       "Nikolai",   "Noor",       "Octavia",
      "Odile",     "Oleander",   "Olivier",     "Ondine",    "Orrin",      "Osric",
      "Ottilie",   "Pascal",     "Perpetua",    "Percival",  "Petra",      "Philippa",
      "Phineas",   "Piers",      "Quentin",     "Quincy",    "Rafferty",   "Ramona",
      "Reuben",    "Rhiannon",   "Roderick",    "Romilly",   "Rosalind",   "Rufus",
      "Sabine",    "Saoirse",    "Seraphina",   "Severin",   "Sibyl",      "Silas",
      "Solveig",   "Stellan",    "Sunniva",     "Sylvie",    "Tabitha",    "Tamsin",
      "Thaddeus",  "Theodora",   "Tiberius",    "Thora",     "Tobias",     "Ulric",
      "Ursula",    "Valentin",   "Verity",      "Vesna",     "Viggo",      "Wilhelmina",
      "Winifred",  "Wren",       "Xanthe",      "Yara",      "Yusuf",      "Zara",
      "Zephyr",    "Zinnia",     "Bartholomew", "Cordelia",  "Evangeline", "Ferdinand",
      "Guinevere", "Horatio",    "Isolde",      "Jocasta",   "Lucinda",    "Mortimer",
      "Ottoline",  "Peregrine",  "Rosamund",    "Sebastian", "Temperance", "Valeria",
      "Waldo",     "Clemency",   "Dashiell",    "Eulalia",   "Hyacinth",   "Ignacio",
      "Leontine",  "Marguerite", "Oswin",       "Prudence",  "Raphael",    "Theron",
      "Aldous",    "Bettina",    "Caspian",     "Dagny",     "Emrys",      "Faustina",
      "Galen",     "Hesper",     "Idris",       "Jovita",    "Kestrel",    "Mireya",
      "Nico",      "Orla",       "Perrin",      "Quilla",    "Rosalie",    "Soren",
      "Talulla",   "Ulla",       "Vivienne",    "Wystan",    "Ysolde",     "Zeno",
  };
  return kNames;
}

const std::vector<std::string>& LastNamePool() {
  static const std::vector<std::string> kNames = {
      "Ashcroft",      "Ashfield",      "Ashmere",       "Brackencombe",   "Brackengate",
      "Brackenhollow", "Brackenlock",   "Brackenmore",   "Brackenthwaite", "Brackenwell",
      "Brackenworth",  "Brightfeather", "Brightwick",    "Cinderbrook",    "Cinderfield",
      "Cindergate",    "Cinderhollow",  "Cindermere",    "Cinderthwaite",  "Cinderwood",
      "Cinderworth",   "Copperstead",   "Coppervale",    "Crowbrook",      "Crowby",
      "Crowstead",     "Duskfield",     "Duskgate",      "Dusklock",       "Elderby",
      "Eldercombe",    "Elderfeather",  "Elderling",     "Elderwick",      "Elderwood",
      "Fenby",         "Fenling",       "Fenmere",       "Fenshaw",        "Fenvale",
      "Fenwick",       "Frostcombe",    "Frostfeather",  "Frostgate",      "Frostmere",
      "Froststead",    "Frostwell",     "Frostworth",    "Gableby",        "Gableling",
      "Gablelock",     "Gablemere",     "Gablemore",     "Gableshaw",      "Gablevale",
      "Gablewell",     "Gableworth",    "Goldcombe",     "Goldgate",       "Goldhollow",
      "Goldridge",     "Goldwick",      "Goldwood",      "Greyby",         "Greycombe",
      "Greyfeather",   "Greymore",      "Greyridge",     "Greywell",       "Greyworth",
      "Hazelbrook",    "Hazelfield",    "Hazelgate",     "Hazelridge",     "Hearthby",
      "Hearthcombe",   "Hearthcroft",   "Hearthdale",    "Hearthgate",     "Hearthlock",
      "Hearthmere",    "Hearthridge",   "Hearthshaw",    "Hearthvale",     "Hollycroft",
      "Hollyfeather",  "Hollyshaw",     "Ivycroft",      "Ivygate",        "Ivyhollow",
      "Ivyling",       "Ivymere",       "Ivyshaw",       "Ivywell",        "Ivyworth",
      "Kettlebrook",   "Kettlecombe",   "Kettleford",    "Kettlehurst",    "Kettlewood",
      "Larkbrook",     "Larkby",        "Larkfeather",   "Larkgate",       "Larkling",
      "Larklock",      "Larkstead",     "Larkthwaite",   "Marrowcroft",    "Marrowhollow",
      "Marrowshaw",    "Millbrook",     "Millby",        "Millfeather",    "Millgate",
      "Millhurst",     "Millmere",      "Millridge",     "Millwell",       "Millwood",
      "Mossbrook",     "Mossdale",      "Mossfeather",   "Mossfield",      "Mossworth",
      "Nettlefeather", "Nettlemere",    "Nettlethwaite", "Oakling",        "Pikecroft",
      "Pikeshaw",      "Quillfeather",  "Quillford",     "Quillthwaite",   "Quillworth",
      "Ravenbrook",    "Ravendale",     "Ravenworth",    "Reedhollow",     "Reedhurst",
      "Reedridge",     "Reedwell",      "Rookcombe",     "Rookfield",      "Rookgate",
      "Rookhurst",     "Rooklock",      "Rushcombe",     "Rushdale",       "Rushgate",
      "Rushling",      "Rushvale",      "Rushwell",      "Rushwick",       "Rushwood",
      "Rushworth",     "Saffroncroft",  "Saffronhollow", "Saffronhurst",   "Saffronling",
      "Saffronmore",   "Saffronwood",   "Silverdale",    "Silverfeather",  "Silverford",
      "Silvermere",    "Silvermore",    "Silverstead",   "Silverthwaite",  "Silverwood",
      "Sorrelbrook",   "Sorrelby",      "Sorrelcombe",   "Sorreldale",     "Sorrelfeather",
      "Sorrelford",    "Sorrelridge",   "Sorrelshaw",    "Sorrelthwaite",  "Sorrelwood",
      "Tansybrook",    "Tansyby",       "Tansycroft",    "Tansydale",      "Tansyfeather",
      "Tansyford",     "Tansymore",     "Tansythwaite",  "Thorncombe",     "Thorndale",
      "Thornfeather",  "Thornlock",     "Thornmore",     "Thornstead",     "Umbergate",
      "Umberling",     "Umbershaw",     "Umberwell",     "Umberwood",      "Willowcombe",
      "Willowfield",   "Willowgate",    "Willowlock",    "Willowshaw",     "Winterbrook",
      "Winterby",      "Winterdale",    "Wintergate",    "Winterhollow",   "Winterthwaite",
      "Woldcroft",     "Woldford",      "Woldhollow",    "Woldhurst",      "Woldling",
      "Woldstead",     "Woldwell",      "Yarrowcombe",   "Yarrowcroft",    "Yarrowfield",
      "Yarrowford",    "Yarrowgate",    "Yarrowhurst",   "Yarrowmere",     "Yarrowstead",
  };
  return kNames;
}

const std::vector<std::string>& DescriptionAdjectives() {
  static const std::vector<std::string> kWords = {
      "acclaimed",  "reclusive",   "celebrated", "visionary",  "eccentric",   "tireless",
      "legendary",  "soft-spoken", "daring",     "unassuming", "pioneering",  "enigmatic",
      "beloved",    "restless",    "meticulous", "flamboyant", "self-taught", "fearless",
      "mysterious", "brilliant",   "humble",     "prolific",   "audacious",   "quiet",
      "stubborn",   "gifted",      "wandering",  "tenacious",  "inventive",   "famously shy",
  };
  return kWords;
}

// Each role ends with the kind of work that the title names.
const std::vector<std::string>& DescriptionRoles() {
  static const std::vector<std::string> kRoles = {
      "director of the virtual reality film",
      "composer of the underwater symphony",
      "author of the bestselling mystery novel",
      "architect of the floating library",
      "inventor of the weather-taming machine",
      "choreographer of the zero-gravity ballet",
      "designer of the self-repairing bridge",
      "painter of the enormous ceiling mural",
      "founder of the traveling puppet theater",
      "creator of the award-winning board game",
      "cartographer of the underground atlas",
      "sculptor of the towering glass monument",
      "engineer of the solar-powered airship",
      "chef behind the famous tasting menu",
      "poet who wrote the epic poem",
      "botanist who bred the glowing orchid",
      "astronomer who named the wandering comet",
      "linguist who decoded the forgotten script",
      "playwright of the longest-running stage play",
      "programmer who built the talking lighthouse",
      "host of the midnight radio show",
      "captain of the icebreaker ship",
      "clockmaker who built the thousand-year clock",
      "perfumer who created the rain-scented perfume",
      "photographer behind the photo series",
      "mathematician who proved the paradox theorem",
      "historian who wrote the twelve-volume chronicle",
      "illustrator of the children's picture book",
      "game designer behind the puzzle video game",
      "founder of the mountain observatory",
      "conductor of the all-robot orchestra tour",
      "scientist who discovered the singing crystal",
      "explorer who led the desert expedition",
      "fashion designer of the clothing line",
      "brewer of the legendary honey ale",
      "glassblower who made the giant chandelier",
      "toymaker who invented the flying kite",
      "filmmaker behind the silent documentary",
      "gardener who planted the maze garden",
      "baker of the prize-winning cake",
  };
  return kRoles;
}

const std::vector<std::string>& TitleHeads() {
  static const std::vector<std::string> kWords = {
      "Echoes",    "Lanterns", "Whispers", "Songs",   "Shadows",   "Gardens",
      "Voyages",   "Secrets",  "Mirrors",  "Letters", "Rivers",    "Ashes",
      "Bells",     "Maps",     "Threads",  "Keys",    "Tides",     "Clocks",
      "Wings",     "Towers",   "Embers",   "Dreams",  "Harvests",  "Storms",
      "Footsteps", "Riddles",  "Crowns",   "Windows", "Lullabies", "Orchards",
  };
  return kWords;
}

const std::vector<std::string>& TitleTails() {
  static const std::vector<std::string> kWords = {
      "the Salt Moon",      "a Silent Harbor",    "the Copper Valley",  "the Last Lighthouse",
      "the Paper Forest",   "the Hollow Hills",   "the Frozen Sea",     "a Distant Spring",
      "the Amber Coast",    "the Velvet Night",   "the Glass Desert",   "the Sleeping City",
      "the Northern Reach", "the Iron Garden",    "a Thousand Stairs",  "the Quiet River",
      "the Burning Sky",    "the Emerald Bay",    "the Lost Caravan",   "the Painted Cliffs",
      "the Winter Market",  "the Silver Meadow",  "the Crooked Bridge", "the Forgotten Island",
      "the Morning Fog",    "the Broken Compass", "the Wandering Star", "the Golden Marsh",
      "the Twelfth Door",   "the Open Road",
  };
  return kWords;
}

}  // namespace revsweep
