/* The "sync-tag floor" entry of config.before-after.json: an empty script at the path of
 * Crumb's banner, so that `crumb proxy --inject-banner http://127.0.0.1:PORT/s/harbour/banner.js`
 * injects the same parser-blocking tag in <head> and renders the same first layer into the HTML,
 * while the tag itself does no work. What a page gets through the proxy before any banner code runs. */
