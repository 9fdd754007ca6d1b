// As in OpenZeppelin's defender-autotask-examples/rollup, without TypeScript: one CommonJS
// file, dist/index.js (CORPUS_OUT overrides the directory), with the pre-installed and
// built-in packages left external.
import resolve from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import { builtinModules } from 'node:module';

export default {
  input: 'src/index.js',
  output: {
    file: `${process.env.CORPUS_OUT || 'dist'}/index.js`,
    format: 'cjs',
    exports: 'named',
  },
  plugins: [resolve({ preferBuiltins: true }), commonjs(), json()],
  external: [
    ...builtinModules,
    /^defender-relay-client(\/.*)?$/,
    /^@openzeppelin\/defender-.*$/,
  ],
};
