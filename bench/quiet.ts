/**
 * Imported first by the bench and load entry points, before anything that creates the Powertools logger or
 * metrics: their JSON log lines and EMF metric lines would bury the closing table. Set either variable to see
 * them anyway (`POWERTOOLS_LOG_LEVEL=INFO npm run load`, `POWERTOOLS_METRICS_DISABLED=false npm run bench`).
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// The local mail sink's console line per mail (the mails are still written to their files).
process.env.MAIL_ECHO ??= 'false';
