// Run on each match of the monitor that names it in action-trigger.
exports.handler = async function (event) {
  const match = event.request.body;
  const value = match.matchReasons[0].params.value;
  console.log('large transfer of', value, 'in', match.hash);
  return { value, hash: match.hash };
};
