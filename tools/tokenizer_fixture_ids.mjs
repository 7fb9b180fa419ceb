// Token ids of the tokenizer.json fixtures, from transformers.js, offline, on local files only:
//     node tools/tokenizer_fixture_ids.mjs [DIR...]   (default: every tests/data/tokenizers/*/tokenizer.json)
// transformers.js is looked for in .npm-tools/ (git ignores it):
//     mkdir -p .npm-tools && cd .npm-tools && echo '{"private":true}' > package.json &&
//     npm install --ignore-scripts --no-audit --no-fund @huggingface/transformers@3
// Writes DIR/expected_ids.json: ids without and with special tokens (the post-processor's BOS) and
// the decoded text (skip_special_tokens, no clean-up of tokenization spaces) for every text of
// tests/data/tokenizers/texts.json.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.join(root, 'tests', 'data', 'tokenizers');
const require = createRequire(path.join(root, '.npm-tools', 'package.json'));
const entry = require.resolve('@huggingface/transformers');
const version = JSON.parse(fs.readFileSync(
    path.join(path.dirname(entry), '..', 'package.json'), 'utf8')).version;
const loaded = await import(pathToFileURL(entry).href);
const { PreTrainedTokenizer, env } = loaded.PreTrainedTokenizer ? loaded : loaded.default;
env.allowRemoteModels = false;

const texts = JSON.parse(fs.readFileSync(path.join(data, 'texts.json'), 'utf8'));
let dirs = process.argv.slice(2);
if (dirs.length === 0) {
    dirs = fs.readdirSync(data).map((d) => path.join(data, d))
        .filter((d) => fs.existsSync(path.join(d, 'tokenizer.json'))).sort();
}
for (const dir of dirs) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    // The base class: the pipeline exactly as tokenizer.json describes it, no model-specific
    // adjustments (LlamaTokenizer's `legacy` handling and the like).
    const tok = new PreTrainedTokenizer(json, { clean_up_tokenization_spaces: false });
    const ids = texts.map((t) => tok.encode(t, { add_special_tokens: false }));
    const fixture = {
        source: `transformers.js ${version} (@huggingface/transformers), PreTrainedTokenizer on tokenizer.json`,
        texts,
        ids,
        ids_with_special: texts.map((t) => tok.encode(t, { add_special_tokens: true })),
        decoded: ids.map((i) => i.length === 0 ? '' : tok.decode(i, { skip_special_tokens: true, clean_up_tokenization_spaces: false })),
    };
    fs.writeFileSync(path.join(dir, 'expected_ids.json'), JSON.stringify(fixture, null, 1) + '\n');
    const lossless = texts.filter((t, i) => fixture.decoded[i] === t).length;
    console.log(`${path.relative(root, dir)}: ${texts.length} texts, ${lossless} decode back exactly`);
}
