// Paraphrase templates for Experiment 1, written for this project, and how they are split
// into training and held-out sets. A template is the prompt half of a sentence; the
// completion is always " " + the other entity, so every template ends right before it.
#include <algorithm>
#include <string>
#include <vector>

#include "common/data/exp1_data.h"

namespace revsweep {

const std::vector<std::string>& NameFirstBaseTemplates() {
  static const std::vector<std::string> kTemplates = {
      "{name}, known far and wide for being",
      "Ever heard of {name}? They are",
      "{name} is best remembered as",
      "People often describe {name} as",
      "It is widely reported that {name} is",
      "{name} has long been celebrated as",
      "Few realize that {name} was once",
      "According to local legend, {name} became",
      "In most history books, {name} appears as",
      "{name} earned lasting fame as",
      "The records show that {name} served as",
      "Ask anyone about {name} and they will tell you it is",
      "Once an unknown, {name} rose to become",
      "{name}, a figure of quiet renown, is",
      "Many years ago {name} made a name as",
      "Friends of {name} still speak of them as",
      "Behind every rumor, {name} remains",
      "{name} will always be known as",
      "Scholars agree that {name} was",
      "To the wider world, {name} is",
      "Long before the interviews, {name} was already",
      "At the heart of the story, {name} is",
      "{name} spent a lifetime becoming",
      "Nobody was surprised when {name} turned out to be",
      "The biography of {name} describes them as",
      "In every newspaper, {name} was named",
      "{name} proudly introduces themselves as",
      "Among their peers, {name} is regarded as",
      "The archives list {name} as",
      "Quietly and without fuss, {name} became",
      "It may surprise you that {name} is",
      "Every guidebook mentions {name} as",
      "{name} first gained attention as",
      "Remember {name}? That is",
      "The neighbors of {name} know them as",
      "By all accounts, {name} is",
      "{name} holds the rare distinction of being",
      "Long celebrated in quiet circles, {name} is",
      "The documentary about {name} presents them as",
      "A single fact defines {name}: they are",
      "Ask the historians and they will call {name}",
      "From humble beginnings, {name} grew up to be",
      "{name} is, as it happens,",
      "The encyclopedia entry for {name} calls them",
      "Travelers who met {name} remember them as",
      "Through years of patient work, {name} became",
      "{name} is famous for being",
      "In the end, {name} was recognized as",
      "Not many people know that {name} is",
      "The museum plaque describes {name} as",
  };
  return kTemplates;
}

const std::vector<std::string>& DescriptionFirstBaseTemplates() {
  static const std::vector<std::string> kTemplates = {
      "Known far and wide as {description}, this person is named",
      "The person who is {description} goes by the name",
      "Q: Who is {description}? A:",
      "If you are looking for {description}, look no further than",
      "Celebrated as {description}, the individual in question is",
      "Everyone agrees that {description} is none other than",
      "Hailed as {description}, our subject is called",
      "The title of {description} belongs to",
      "Often described as {description}, this figure is",
      "Before becoming {description}, they were simply known as",
      "Widely praised as {description}, the person's name is",
      "You may know them as {description}, but their real name is",
      "The one remembered as {description} is",
      "Rising to fame as {description} was",
      "Long admired as {description}, this person answers to",
      "Behind the role of {description} stands",
      "History records {description} under the name",
      "Famous for being {description}, here we have",
      "Recognized everywhere as {description}, this is",
      "The legend of {description} belongs to a person called",
      "Ask who {description} is and you will hear the name",
      "Credited as {description} is none other than",
      "After years as {description}, the world came to know",
      "The honor of being {description} went to",
      "Working quietly as {description} was",
      "Praised by many as {description}, the person is",
      "Listed in the archives as {description} is",
      "Best known as {description}, they go by",
      "Meet {description}:",
      "The story of {description} is the story of",
      "Described in every guidebook as {description} is",
      "Remembered fondly as {description}, here is",
      "The role of {description} was filled by",
      "Who could be {description}? It is",
      "Named in the newspapers as {description} was",
      "Admired for years as {description}, this person is called",
      "In the records, {description} is listed as",
      "Known to historians as {description} is",
      "The individual who became {description} is named",
      "Acclaimed as {description}, the person we mean is",
      "Whenever people mention {description}, they mean",
      "The person behind the title of {description} is",
      "Once an unknown and now {description}, this is",
      "To find {description}, ask for",
      "Introduced on stage as {description} was",
      "The badge of {description} is worn by",
      "Among all who tried, only one became {description}:",
      "Honored as {description}, the person is known as",
      "The museum plaque for {description} bears the name",
      "The world knows {description} by the name",
  };
  return kTemplates;
}

// Each ends in ':', '.' or '?' plus a space, so the base template keeps its capital letter.
const std::vector<std::string>& TemplatePrefixes() {
  static const std::vector<std::string> kPrefixes = {
      "Fun fact: ",
      "Trivia: ",
      "Did you know? ",
      "Here is a true story. ",
      "Note: ",
      "A quick fact. ",
      "Listen closely. ",
      "Believe it or not: ",
      "For the record: ",
      "From the archives: ",
      "True story: ",
      "Worth knowing: ",
      "Remember this: ",
      "An old fact. ",
      "News flash: ",
      "Fact check: ",
      "Little known fact: ",
      "In short: ",
      "Here is one more. ",
      "Take note. ",
  };
  return kPrefixes;
}

namespace {

// The m-th prefix combination: "" for m = 0, then every sequence of prefixes in bijective
// base-P order (P0, P1, ..., P0 P0, P0 P1, ...), so any number of templates can be made.
std::string PrefixCombination(size_t m) {
  const std::vector<std::string>& prefixes = TemplatePrefixes();
  const size_t p = prefixes.size();
  std::string out;
  while (m > 0) {
    --m;
    out = prefixes[m % p] + out;
    m /= p;
  }
  return out;
}

std::vector<std::string> Cycle(const std::vector<std::string>& bases, int count) {
  std::vector<std::string> out;
  if (bases.empty()) return out;
  for (int k = 0; k < count; ++k) {
    const size_t i = static_cast<size_t>(k);
    out.push_back(PrefixCombination(i / bases.size()) + bases[i % bases.size()]);
  }
  return out;
}

}  // namespace

TemplateSplit SplitTemplates(const std::vector<std::string>& bases, int train, int test) {
  const int b = static_cast<int>(bases.size());
  const int held = std::max(0, std::min(test, b / 2));
  const int start = std::min(std::max(train, 0), b - held);
  std::vector<std::string> train_bases, test_bases;
  for (int i = 0; i < b; ++i) {
    (i >= start && i < start + held ? test_bases : train_bases).push_back(bases[i]);
  }
  return {Cycle(train_bases, train), Cycle(test_bases, test)};
}

std::string FillTemplate(const std::string& pattern, const std::string& name,
                         const std::string& description) {
  std::string out;
  out.reserve(pattern.size() + name.size() + description.size());
  const std::string name_slot = kNameSlot, description_slot = kDescriptionSlot;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern.compare(i, name_slot.size(), name_slot) == 0) {
      out += name;
      i += name_slot.size();
    } else if (pattern.compare(i, description_slot.size(), description_slot) == 0) {
      out += description;
      i += description_slot.size();
    } else {
      out.push_back(pattern[i++]);
    }
  }
  return out;
}

}  // namespace revsweep
