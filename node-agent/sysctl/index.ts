/**
 * The node agent's sysctl engine: the allow-list, /proc/sys access, the durable record of
 * original values and the reconciler that applies, verifies, holds and reverts sysctls.
 */
export { allowListEntry, allowListFile, deniedPattern, sysctlScopes, type AllowListEntry, type AllowListFile, type SysctlScope } from './allowlist-schema.js';
export { AllowListError, buildAllowList, matchesPattern, type AllowList, type AllowListSource, type AllowedSysctl } from './allowlist.js';
export { loadAllowList, shippedAllowListPath, type LoadAllowListOptions } from './allowlist-load.js';
export { checkSysctl, describeAllowed, type SysctlCheck } from './check.js';
export { sysctlNameOfPath, sysctlPath, sysctlPathComponents } from './names.js';
export { readBootId, readSysctl, SysctlIoError, writeSysctl, type SysctlIoFailure } from './proc-sys.js';
export { readSysctlState, StateFileError, stateFilePath, writeSysctlState, type HeldSysctl } from './state-file.js';
export { hostAssignmentFor, readHostSysctlFiles, type HostAssignment, type HostSysctlFiles } from './host-files.js';
export { parseSysctlConf, type SysctlConfAssignment } from './sysctl-conf.js';
export { reconcile, type ReconcileOptions, type ReconcileResult, type SysctlEvent, type SysctlEventReason } from './reconcile.js';
export { normaliseSysctlValue } from './value.js';
