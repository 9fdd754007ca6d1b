exports.handler = async function (event) {
  return 'right ' + event.request.body.monitor.riskCategory;
};
