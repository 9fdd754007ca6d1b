// The workflow's first step: the monitor's match is its request body.
exports.handler = async function (event) {
  const match = event.request.body;
  console.log('inspecting', match.hash, match.monitor.severityLevel);
  return { hash: match.hash, value: match.matchReasons[0].params.value };
};
