{{/*
Name prefix of every object: the release name (or fullnameOverride) cut to
40 characters, so "<prefix>-init-<10 hex digits>" fits in 63. The engine
computes the same names (src/names.rs) to observe them.
*/}}
{{- define "medusa.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "medusa.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" . "component" "backend"). */}}
{{- define "medusa.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "medusa.labels" -}}
helm.sh/chart: {{ include "medusa.chart" .ctx }}
{{ include "medusa.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: storeplane
{{- end }}

{{- define "medusa.component" -}}
{{- printf "%s-%s" (include "medusa.fullname" .ctx) .component }}
{{- end }}

{{/* Replicas of every workload but the paused page: none while the store is suspended. */}}
{{- define "medusa.replicas" -}}
{{- if .Values.suspended }}0{{ else }}1{{ end }}
{{- end }}

{{/*
The backend's CORS origins: `store.url`, then every other host of the
Ingress (custom domains, the store host) on the same scheme, so the admin
and the storefront work from each. Just `store.url` without extra hosts.
*/}}
{{- define "medusa.corsOrigins" -}}
{{- if .Values.ingress.extraHosts }}
{{- $scheme := ternary "https" "http" (hasPrefix "https://" .Values.store.url) }}
{{- $origins := list .Values.store.url }}
{{- range prepend .Values.ingress.extraHosts .Values.ingress.host }}
{{- $origin := printf "%s://%s" $scheme . }}
{{- if not (has $origin $origins) }}
{{- $origins = append $origins $origin }}
{{- end }}
{{- end }}
{{- join "," $origins }}
{{- else }}
{{- .Values.store.url }}
{{- end }}
{{- end }}

{{- define "medusa.initJob" -}}
{{- if .Values.init.jobSuffix }}
{{- printf "%s-init-%s" (include "medusa.fullname" .) .Values.init.jobSuffix }}
{{- else }}
{{- printf "%s-init" (include "medusa.fullname" .) }}
{{- end }}
{{- end }}

{{- define "medusa.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* The existing Secrets; by default the names the engine uses. */}}
{{- define "medusa.adminSecret" -}}
{{- .Values.secrets.admin | default (printf "%s-admin" (include "medusa.fullname" .)) }}
{{- end }}

{{- define "medusa.databaseSecret" -}}
{{- .Values.secrets.database | default (printf "%s-db" (include "medusa.fullname" .)) }}
{{- end }}

{{- define "medusa.appSecret" -}}
{{- .Values.secrets.app | default (printf "%s-app" (include "medusa.fullname" .)) }}
{{- end }}

{{/* Pod security context: non-root uid/gid, fsGroup, RuntimeDefault seccomp. */}}
{{- define "medusa.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "medusa.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{- define "medusa.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end }}

{{/*
What medusa-config.ts reads, shared by the backend, its init container and
the init Job: database and Redis by parts (passwords from Secrets), CORS for
the public origins, JWT and cookie secrets.
*/}}
{{- define "medusa.backendEnv" -}}
{{- $app := include "medusa.appSecret" . -}}
- name: DB_HOST
  value: {{ include "medusa.component" (dict "ctx" . "component" "postgres") | quote }}
- name: DB_PORT
  value: "5432"
- name: DB_NAME
  value: {{ .Values.postgres.database | quote }}
- name: DB_USER
  value: {{ .Values.postgres.user | quote }}
{{ include "medusa.secretEnv" (dict "name" "DB_PASSWORD" "secret" (include "medusa.databaseSecret" .) "key" .Values.secrets.databasePasswordKey) }}
- name: REDIS_HOST
  value: {{ include "medusa.component" (dict "ctx" . "component" "redis") | quote }}
- name: REDIS_PORT
  value: "6379"
{{ include "medusa.secretEnv" (dict "name" "REDIS_PASSWORD" "secret" $app "key" "redis-password") }}
- name: STORE_CORS
  value: {{ include "medusa.corsOrigins" . | quote }}
- name: ADMIN_CORS
  value: {{ include "medusa.corsOrigins" . | quote }}
- name: AUTH_CORS
  value: {{ include "medusa.corsOrigins" . | quote }}
{{ include "medusa.secretEnv" (dict "name" "JWT_SECRET" "secret" $app "key" "jwt-secret") }}
{{ include "medusa.secretEnv" (dict "name" "COOKIE_SECRET" "secret" $app "key" "cookie-secret") }}
- name: COOKIE_SECURE
  value: {{ hasPrefix "https://" .Values.store.url | toString | quote }}
- name: MEDUSA_WORKER_MODE
  value: "shared"
- name: MEDUSA_DISABLE_TELEMETRY
  value: "true"
{{- end }}
