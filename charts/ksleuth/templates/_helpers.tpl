{{/* The chart's name, cut to fit a label. */}}
{{- define "ksleuth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name for objects: <release> if it contains the chart name, else <release>-<chart>. */}}
{{- define "ksleuth.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ksleuth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ksleuth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ksleuth
{{- end -}}

{{- define "ksleuth.operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ksleuth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "ksleuth.agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ksleuth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "ksleuth.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "ksleuth.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ksleuth.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "ksleuth.fullname" .)) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference: repository@digest when a digest is set, else repository:tag (appVersion by default). */}}
{{- define "ksleuth.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The username the API server gives the agent's ServiceAccount. */}}
{{- define "ksleuth.agent.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "ksleuth.agent.serviceAccountName" .) -}}
{{- end -}}

{{- define "ksleuth.agent.priorityClassName" -}}
{{- if .Values.agent.priorityClassName -}}
{{- .Values.agent.priorityClassName -}}
{{- else if .Values.agent.priorityClass.create -}}
{{- printf "%s-agent" (include "ksleuth.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Whether sysctlAllowlist.extra has anything to pass to the operator and agents. */}}
{{- define "ksleuth.allowlistExtra.enabled" -}}
{{- if or .Values.sysctlAllowlist.extra.sysctls .Values.sysctlAllowlist.extra.denied }}true{{ end -}}
{{- end -}}

{{- define "ksleuth.allowlistExtra.configMapName" -}}
{{- printf "%s-sysctl-allowlist" (include "ksleuth.fullname" .) -}}
{{- end -}}

{{/* Where the operator and agents find the extra allow-list file of the ConfigMap. */}}
{{- define "ksleuth.allowlistExtra.path" -}}
/etc/ksleuth/sysctl-allowlist/extra.yaml
{{- end -}}

{{/* A denied pattern (* matches any characters) as an anchored RE2 expression. */}}
{{- define "ksleuth.patternRegex" -}}
{{- printf "^%s$" (regexQuoteMeta . | replace "\\*" ".*") -}}
{{- end -}}

{{/*
The sysctl allow-list the admission policy enforces, as JSON: the shipped file (files/sysctl-allowlist.yaml,
generated from config/sysctl-allowlist.yaml) merged with sysctlAllowlist.extra by the rules the agent
applies (lib/sysctl/allowlist.ts): the extra's denied patterns drop matching keys, then its
entries add keys or narrow them. An entry that would widen a range, change a key's type or scope, or
allow a denied key fails the render with the reason, as the agent would refuse to start.
*/}}
{{- define "ksleuth.sysctlAllowlist" -}}
{{- $base := .Files.Get "files/sysctl-allowlist.yaml" | fromYaml -}}
{{- $extra := .Values.sysctlAllowlist.extra -}}
{{- $sysctls := dict -}}
{{- $denied := list -}}
{{- range $file := list (dict "source" "config/sysctl-allowlist.yaml" "data" $base) (dict "source" "sysctlAllowlist.extra" "data" $extra) -}}
{{- range $pattern := ($file.data.denied | default list) -}}
{{- $denied = append $denied (dict "pattern" $pattern.pattern "why" $pattern.why "source" $file.source) -}}
{{- range $name := keys $sysctls -}}
{{- if regexMatch (include "ksleuth.patternRegex" $pattern.pattern) $name -}}
{{- $_ := unset $sysctls $name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $entry := ($file.data.sysctls | default list) -}}
{{- $where := printf "%s: sysctls entry %s" $file.source $entry.name -}}
{{- if hasKey $seen $entry.name -}}
{{- fail (printf "%s is listed twice; keep one entry" $where) -}}
{{- end -}}
{{- $_ := set $seen $entry.name true -}}
{{- include "ksleuth.checkEntry" (dict "where" $where "entry" $entry) -}}
{{- range $d := $denied -}}
{{- if regexMatch (include "ksleuth.patternRegex" $d.pattern) $entry.name -}}
{{- fail (printf "%s matches the denied pattern %s (%s: %s); remove the entry" $where $d.pattern $d.source $d.why) -}}
{{- end -}}
{{- end -}}
{{- $earlier := get $sysctls $entry.name -}}
{{- if $earlier -}}
{{- include "ksleuth.checkNarrows" (dict "where" $where "earlier" $earlier "entry" $entry) -}}
{{- end -}}
{{- $merged := deepCopy $entry -}}
{{- if and $earlier (eq $entry.type "tuple") -}}
{{- $_ := set $merged "ascending" (or $entry.ascending $earlier.ascending) -}}
{{- end -}}
{{- $_ := set $sysctls $entry.name $merged -}}
{{- end -}}
{{- end -}}
{{- dict "sysctls" $sysctls "denied" $denied | toJson -}}
{{- end -}}

{{/* Fails unless an extra allow-list entry only narrows the earlier entry for the same key. */}}
{{- define "ksleuth.checkNarrows" -}}
{{- $where := .where -}}
{{- $earlier := .earlier -}}
{{- $entry := .entry -}}
{{- $refuse := printf "%s: an extra entry may only narrow %s as the shipped allow-list defines it, but" $where $entry.name -}}
{{- if ne $entry.type $earlier.type -}}
{{- fail (printf "%s its type is %s, not %s" $refuse $entry.type $earlier.type) -}}
{{- end -}}
{{- if ne $entry.scope $earlier.scope -}}
{{- fail (printf "%s its scope is %s, not %s" $refuse $entry.scope $earlier.scope) -}}
{{- end -}}
{{- if eq $entry.type "integer" -}}
{{- if or (lt (float64 $entry.min) (float64 $earlier.min)) (gt (float64 $entry.max) (float64 $earlier.max)) -}}
{{- fail (printf "%s %v..%v is not inside %v..%v" $refuse $entry.min $entry.max $earlier.min $earlier.max) -}}
{{- end -}}
{{- else if eq $entry.type "tuple" -}}
{{- if ne (len $entry.fields) (len $earlier.fields) -}}
{{- fail (printf "%s it has %d fields, not %d" $refuse (len $entry.fields) (len $earlier.fields)) -}}
{{- end -}}
{{- range $i, $field := $entry.fields -}}
{{- $baseField := index $earlier.fields $i -}}
{{- if or (lt (float64 $field.min) (float64 $baseField.min)) (gt (float64 $field.max) (float64 $baseField.max)) -}}
{{- fail (printf "%s field %s %v..%v is not inside %v..%v" $refuse $field.name $field.min $field.max $baseField.min $baseField.max) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $value := $entry.values -}}
{{- if not (has $value $earlier.values) -}}
{{- fail (printf "%s %s is not among %s" $refuse $value (join ", " $earlier.values)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Fails on an allow-list entry the agent would refuse on its own (docs/sysctl-allowlist.md). */}}
{{- define "ksleuth.checkEntry" -}}
{{- $where := .where -}}
{{- $entry := .entry -}}
{{- if and (eq $entry.scope "netns") (not (hasPrefix "net." $entry.name)) -}}
{{- fail (printf "%s: scope is netns but only net.* sysctls belong to a network namespace; use scope: global" $where) -}}
{{- end -}}
{{- if eq $entry.type "integer" -}}
{{- if gt (float64 $entry.min) (float64 $entry.max) -}}
{{- fail (printf "%s: min %v is above max %v; swap them" $where $entry.min $entry.max) -}}
{{- end -}}
{{- else if eq $entry.type "tuple" -}}
{{- $names := dict -}}
{{- range $field := $entry.fields -}}
{{- if hasKey $names $field.name -}}
{{- fail (printf "%s: field name %s is used twice; give each field its own name" $where $field.name) -}}
{{- end -}}
{{- $_ := set $names $field.name true -}}
{{- if gt (float64 $field.min) (float64 $field.max) -}}
{{- fail (printf "%s: field %s: min %v is above max %v; swap them" $where $field.name $field.min $field.max) -}}
{{- end -}}
{{- end -}}
{{- else if ne (len $entry.values) (len (uniq $entry.values)) -}}
{{- fail (printf "%s: values lists a value twice; list each once" $where) -}}
{{- end -}}
{{- end -}}

{{/* The agent's flags for the always-on watch (docs/watch.md). */}}
{{- define "ksleuth.agent.watchArgs" -}}
{{- if not .Values.watch.enabled -}}
- --no-watch
{{- else -}}
- --kernel-log={{ .Values.watch.kernelLog }}
{{- if not .Values.watch.nodeConditions }}
- --no-node-conditions
{{- end }}
{{- if .Values.watch.config }}
- --watch-config=/etc/ksleuth/watch/watch.yaml
{{- end }}
{{- end -}}
{{- end -}}

{{/* What the agent uses a capability for, one comment line per line; agent.capabilities renders it above each. */}}
{{- define "ksleuth.agent.capabilityReason" -}}
{{- $reasons := dict
  "BPF" "bpftrace loads BPF programs and creates the maps that aggregate in the kernel\n(kmalloc, io-latency, tcp retransmits, custom programs). Kernel 5.8 and later."
  "PERFMON" "bpftrace attaches BPF programs to tracepoints through perf events and reads kernel\nmemory and stacks; perf samples every CPU (cpu-profile: perf record -a)."
  "SYS_ADMIN" "Kernels before 5.8 have no CAP_BPF and CAP_PERFMON and ask for this instead, as do\nthe default seccomp profiles of older container runtimes before they let bpf() and\nperf_event_open() through; kernel.numa_balancing refuses writes without it; setns(2)\ninto a pod's network namespace, where net.* mitigations are written (docs/pods.md)."
  "SYS_PTRACE" "/proc/<pid>/fd, maps and stacks of processes with more capabilities than the agent:\nthe tcp capture's socket owners, perf's user-space symbols, `ss -p` in the bundle;\n/proc/<pid>/ns/net of pods' processes, to reach their network namespaces."
  "DAC_READ_SEARCH" "/proc/<pid>/fd of processes owned by other users is mode 0500 for its owner only."
  "SYSLOG" "/dev/kmsg when kernel.dmesg_restrict=1 (kernel-log, bundle), and real addresses in\n/proc/kallsyms (kptr_restrict) so perf and bpftrace name kernel functions."
  "NET_ADMIN" "net.* sysctl handlers that check it: net.ipv4.tcp_congestion_control loads the\nmodule of an algorithm that is not loaded yet only for CAP_NET_ADMIN."
  "SYS_RESOURCE" "Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK, which bpftrace raises with\nthis; 5.11 and later charge them to the memory cgroup and do not need it."
-}}
{{- get $reasons . | default "Added with agent.capabilities." -}}
{{- end -}}

{{/* The username the API server gives the operator's ServiceAccount: the only caller agents accept. */}}
{{- define "ksleuth.operator.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "ksleuth.operator.serviceAccountName" .) -}}
{{- end -}}

{{/* The Service in front of the operator's artifacts API, and the Secret with its serving certificate. */}}
{{- define "ksleuth.artifactsApi.serviceName" -}}
{{- printf "%s-artifacts-api" (include "ksleuth.fullname" .) -}}
{{- end -}}
{{- define "ksleuth.artifactsApi.secretName" -}}
{{- printf "%s-artifacts-api-tls" (include "ksleuth.fullname" .) -}}
{{- end -}}

{{/* The namespace of the workload Pods (spec.workload.pod). */}}
{{- define "ksleuth.workloadPods.namespace" -}}
{{- default (printf "%s-workloads" .Release.Namespace) .Values.workloadPods.namespace -}}
{{- end -}}
