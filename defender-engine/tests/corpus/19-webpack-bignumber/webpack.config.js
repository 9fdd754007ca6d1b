// As in OpenZeppelin's defender-autotask-examples/webpack, without TypeScript: one CommonJS
// file, dist/index.js (CORPUS_OUT overrides the directory), with the dependencies available
// in the action environment left external.
const path = require('path');

module.exports = {
  entry: './src/index.js',
  target: 'node',
  mode: 'development',
  devtool: false,
  externals: [
    // List here all dependencies available on the Autotask environment
    /axios/,
    /defender-[^\-]+-client/,
    /^ethers$/,
    /web3/,
    /@ethersproject\/.*/,
  ],
  externalsType: 'commonjs2',
  output: {
    filename: 'index.js',
    path: path.resolve(process.env.CORPUS_OUT || path.join(__dirname, 'dist')),
    library: { type: 'commonjs2' },
  },
};
