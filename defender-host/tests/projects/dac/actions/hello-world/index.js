exports.handler = async function (event) {
  return { greeting: process.env.GREETING, stage: process.env.STAGE };
};
