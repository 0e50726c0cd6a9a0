#!/usr/bin/env node
// Encodes a corpus with the npm gpt-3-encoder's own Encoder.js and prints the ids as JSON:
// the reference tests/common/tokenize/gpt2_bpe_test.cc compares common/gpt2_bpe against.
//
//   node encode_gpt3_encoder.js ENCODER_JS CORPUS
//
// CORPUS ending in .json must hold a JSON array of strings: prints a JSON array with each
// string's ids. Any other file is read as UTF-8 text and encoded whole: prints one array.
'use strict';
const fs = require('fs');
const path = require('path');

if (process.argv.length !== 4) {
  console.error('usage: encode_gpt3_encoder.js ENCODER_JS CORPUS');
  process.exit(2);
}
const encoder = require(path.resolve(process.argv[2]));
const corpus = process.argv[3];
const text = fs.readFileSync(corpus, 'utf-8');
if (corpus.endsWith('.json')) {
  const items = JSON.parse(text);
  if (!Array.isArray(items)) {
    console.error(`${corpus}: not a JSON array of strings`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(items.map((s) => encoder.encode(s))) + '\n');
} else {
  process.stdout.write(JSON.stringify(encoder.encode(text)) + '\n');
}
