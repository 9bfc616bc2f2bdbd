/**
 * Which sysctls ksleuth may set and to what: the allow-list (shipped data plus chart extras) and the
 * check every value passes where it enters (the operator) and again where it is written (the agent).
 */
export { allowListEntry, allowListFile, deniedPattern, sysctlScopes, type AllowListEntry, type AllowListFile, type SysctlScope } from './allowlist-schema.js';
export { AllowListError, buildAllowList, matchesPattern, type AllowList, type AllowListSource, type AllowedSysctl } from './allowlist.js';
export { loadAllowList, shippedAllowListPath, type LoadAllowListOptions } from './allowlist-load.js';
export { checkSysctl, describeAllowed, type SysctlCheck } from './check.js';
export { normaliseSysctlValue } from './value.js';
