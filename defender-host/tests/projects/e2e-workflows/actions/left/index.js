exports.handler = async function (event) {
  return 'left ' + event.request.body.monitor.name;
};
