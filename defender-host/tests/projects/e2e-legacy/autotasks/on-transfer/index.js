exports.handler = async function (event) {
  const match = event.request.body;
  return { value: match.matchReasons[0].params.value };
};
