// @kubernetes-models/* publish only an `import` export condition; jest's CommonJS
// resolution would fail with ERR_PACKAGE_PATH_NOT_EXPORTED, so resolve them as ESM
// (Backstage's jest transform then compiles the ESM files).
module.exports = (request, options) => {
  if (
    request.startsWith('@kubernetes-models/') ||
    request === 'kubernetes-models' ||
    request.startsWith('kubernetes-models/')
  ) {
    return options.defaultResolver(request, {
      ...options,
      conditions: ['import', 'default'],
    });
  }
  return options.defaultResolver(request, options);
};
