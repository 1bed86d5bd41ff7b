{{/*
Name prefix of every object: the release name (or fullnameOverride) cut to
40 characters, so "<prefix>-setup-<10 hex digits>" fits in 63. The engine
computes the same names (src/names.rs) to observe them.
*/}}
{{- define "woocommerce.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "woocommerce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" . "component" "mysql"). */}}
{{- define "woocommerce.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "woocommerce.labels" -}}
helm.sh/chart: {{ include "woocommerce.chart" .ctx }}
{{ include "woocommerce.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: storeplane
{{- end }}

{{- define "woocommerce.mysql" -}}
{{- printf "%s-mysql" (include "woocommerce.fullname" .) }}
{{- end }}

{{- define "woocommerce.wordpress" -}}
{{- printf "%s-wordpress" (include "woocommerce.fullname" .) }}
{{- end }}

{{- define "woocommerce.paused" -}}
{{- printf "%s-paused" (include "woocommerce.fullname" .) }}
{{- end }}

{{/* Replicas of MySQL and WordPress: none while the store is suspended. */}}
{{- define "woocommerce.replicas" -}}
{{- if .Values.suspended }}0{{ else }}1{{ end }}
{{- end }}

{{- define "woocommerce.setupJob" -}}
{{- if .Values.setup.jobSuffix }}
{{- printf "%s-setup-%s" (include "woocommerce.fullname" .) .Values.setup.jobSuffix }}
{{- else }}
{{- printf "%s-setup" (include "woocommerce.fullname" .) }}
{{- end }}
{{- end }}

{{- define "woocommerce.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* The existing Secrets; by default the names the engine uses. */}}
{{- define "woocommerce.adminSecret" -}}
{{- .Values.secrets.admin | default (printf "%s-admin" (include "woocommerce.fullname" .)) }}
{{- end }}

{{- define "woocommerce.databaseSecret" -}}
{{- .Values.secrets.database | default (printf "%s-db" (include "woocommerce.fullname" .)) }}
{{- end }}

{{/* Pod security context shared by a component: non-root uid/gid, fsGroup, RuntimeDefault seccomp. */}}
{{- define "woocommerce.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container hardening that the official images tolerate. */}}
{{- define "woocommerce.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* WordPress's database settings, read by wp-config.php (docker flavour) in both WordPress and the setup Job. */}}
{{- define "woocommerce.databaseEnv" -}}
- name: WORDPRESS_DB_HOST
  value: {{ printf "%s:3306" (include "woocommerce.mysql" .) | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ .Values.mysql.database | quote }}
- name: WORDPRESS_DB_USER
  value: {{ .Values.mysql.user | quote }}
- name: WORDPRESS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "woocommerce.databaseSecret" . | quote }}
      key: {{ .Values.secrets.databasePasswordKey | quote }}
{{- end }}
