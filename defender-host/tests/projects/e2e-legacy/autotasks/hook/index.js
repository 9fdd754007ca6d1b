exports.handler = async function (event) {
  return { legacy: true, secret: event.secrets['legacy-secret'], body: event.request.body };
};
