{{/*
Names, labels and the references to secrets shared by every template.
*/}}

{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "weir.controlPlane.fullname" -}}
{{- printf "%s-control-plane" (include "weir.fullname" .) }}
{{- end }}

{{- define "weir.dataPlane.fullname" -}}
{{- printf "%s-data-plane" (include "weir.fullname" .) }}
{{- end }}

{{/* The headless Service that gives every data-plane pod a stable DNS name. */}}
{{- define "weir.dataPlane.headless" -}}
{{- printf "%s-data-plane-headless" (include "weir.fullname" .) }}
{{- end }}

{{- define "weir.controlPlane.serviceAccountName" -}}
{{- if .Values.controlPlane.serviceAccount.create }}
{{- default (include "weir.controlPlane.fullname" .) .Values.controlPlane.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controlPlane.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "weir.dataPlane.serviceAccountName" -}}
{{- if .Values.dataPlane.serviceAccount.create }}
{{- default (include "weir.dataPlane.fullname" .) .Values.dataPlane.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.dataPlane.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "weir.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "weir.labels" -}}
helm.sh/chart: {{ include "weir.chart" . }}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: pass (dict "ctx" $ "component" "control-plane"). */}}
{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "weir.componentLabels" -}}
{{ include "weir.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* URL scheme of every listener. */}}
{{- define "weir.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{- define "weir.controlPlane.url" -}}
{{- printf "%s://%s.%s.svc.%s:%d" (include "weir.scheme" .) (include "weir.controlPlane.fullname" .) .Release.Namespace .Values.clusterDomain (int .Values.controlPlane.service.port) }}
{{- end }}

{{/*
The Secret the chart renders from inline values, and the Secret holding the TLS files.
*/}}
{{- define "weir.inlineSecretName" -}}
{{- printf "%s-inline-secrets" (include "weir.fullname" .) }}
{{- end }}

{{- define "weir.tlsSecretName" -}}
{{- if .Values.tls.cert }}
{{- printf "%s-inline-tls" (include "weir.fullname" .) }}
{{- else }}
{{- required "tls.enabled is true: set tls.existingSecret (a Secret with the certificate, key and CA) or tls.cert, tls.key and tls.ca" .Values.tls.existingSecret }}
{{- end }}
{{- end }}

{{/* The keys of the TLS files in the TLS Secret (fixed when the chart renders it). */}}
{{- define "weir.tlsKeys" -}}
{{- if .Values.tls.cert -}}
cert: tls.crt
key: tls.key
ca: ca.crt
{{- else -}}
cert: {{ .Values.tls.certKey }}
key: {{ .Values.tls.keyKey }}
ca: {{ .Values.tls.caKey }}
{{- end }}
{{- end }}

{{/*
One environment variable read from a Secret: the chart's own Secret when the inline
value is set, else the existing Secret the values name. Fails with `what` when neither
is given. Pass (dict "ctx" $ "env" NAME "inline" VALUE "inlineKey" KEY
"existing" SECRET "existingKey" KEY "what" TEXT).
*/}}
{{- define "weir.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      {{- if .inline }}
      name: {{ include "weir.inlineSecretName" .ctx }}
      key: {{ .inlineKey }}
      {{- else }}
      name: {{ required (printf "%s: set it inline or name an existing Secret" .what) .existing }}
      key: {{ .existingKey }}
      {{- end }}
{{- end }}

{{/* Whether the S3 credentials come from a Secret at all ("true" or ""). */}}
{{- define "weir.s3Credentials" -}}
{{- $s3 := .Values.coldTier.s3 }}
{{- if or (and $s3.accessKeyId $s3.secretAccessKey) $s3.existingSecret }}true{{ end }}
{{- end }}

{{/* Whether the bootstrap administrator comes from a Secret at all ("true" or ""). */}}
{{- define "weir.bootstrapAdmin" -}}
{{- $b := .Values.auth.bootstrapAdmin }}
{{- if and .Values.auth.enabled (or (and $b.accessKeyId $b.secretAccessKey) $b.existingSecret) }}true{{ end }}
{{- end }}

{{/* Environment variables with secrets, shared by both planes. */}}
{{- define "weir.secretEnvs" -}}
{{ include "weir.secretEnv" (dict "ctx" . "env" "WEIR_CLUSTER_SECRET" "inline" .Values.clusterSecret.value "inlineKey" "cluster-secret" "existing" .Values.clusterSecret.existingSecret "existingKey" .Values.clusterSecret.existingSecretKey "what" "clusterSecret") }}
{{- if .Values.auth.enabled }}
{{ include "weir.secretEnv" (dict "ctx" . "env" "WEIR_MASTER_KEY" "inline" .Values.auth.masterKey.value "inlineKey" "master-key" "existing" .Values.auth.masterKey.existingSecret "existingKey" .Values.auth.masterKey.existingSecretKey "what" "auth.masterKey (auth.enabled is true)") }}
{{- end }}
{{- if and (eq .Values.coldTier.backend "s3") (include "weir.s3Credentials" .) }}
{{- $s3 := .Values.coldTier.s3 }}
{{- $inline := and $s3.accessKeyId $s3.secretAccessKey }}
{{ include "weir.secretEnv" (dict "ctx" . "env" "WEIR_S3_ACCESS_KEY_ID" "inline" $inline "inlineKey" "s3-access-key-id" "existing" $s3.existingSecret "existingKey" $s3.accessKeyIdKey "what" "coldTier.s3 credentials") }}
{{ include "weir.secretEnv" (dict "ctx" . "env" "WEIR_S3_SECRET_ACCESS_KEY" "inline" $inline "inlineKey" "s3-secret-access-key" "existing" $s3.existingSecret "existingKey" $s3.secretAccessKeyKey "what" "coldTier.s3 credentials") }}
{{- end }}
{{- end }}

{{/* Command-line flags about TLS, shared by both planes. */}}
{{- define "weir.tlsArgs" -}}
{{- if .Values.tls.enabled -}}
- --tls-cert=/etc/weir/tls/tls.crt
- --tls-key=/etc/weir/tls/tls.key
- --tls-ca=/etc/weir/tls/ca.crt
{{- else -}}
- --insecure-plaintext
{{- end }}
{{- end }}

{{/* Command-line flags of the cold tier, shared by both planes. */}}
{{- define "weir.tierArgs" -}}
{{- $t := .Values.coldTier -}}
- --tier={{ $t.backend }}
{{- if eq $t.backend "s3" }}
- --s3-bucket={{ required "coldTier.backend is s3: set coldTier.s3.bucket" $t.s3.bucket }}
{{- with $t.s3.endpoint }}
- --s3-endpoint={{ . }}
{{- end }}
{{- with $t.s3.region }}
- --s3-region={{ . }}
{{- end }}
{{- with $t.s3.prefix }}
- --s3-prefix={{ . }}
{{- end }}
{{- if $t.s3.pathStyle }}
- --s3-path-style
{{- end }}
- --local-retention-bytes={{ int64 $t.localRetentionBytes }}
{{- if not (kindIs "invalid" $t.localRetentionMs) }}
- --local-retention-ms={{ int64 $t.localRetentionMs }}
{{- end }}
- --tier-interval-ms={{ int64 $t.intervalMs }}
{{- end }}
{{- end }}

{{/* Volumes and mounts for the TLS files. */}}
{{- define "weir.tlsVolume" -}}
{{- if .Values.tls.enabled -}}
{{- $keys := include "weir.tlsKeys" . | fromYaml -}}
- name: tls
  secret:
    secretName: {{ include "weir.tlsSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ $keys.cert }}
        path: tls.crt
      - key: {{ $keys.key }}
        path: tls.key
      - key: {{ $keys.ca }}
        path: ca.crt
{{- end }}
{{- end }}

{{- define "weir.tlsMount" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  mountPath: /etc/weir/tls
  readOnly: true
{{- end }}
{{- end }}

{{/* Checksum of the chart's own Secrets, so that pods roll when an inline value changes. */}}
{{- define "weir.secretsChecksum" -}}
{{- include (print .Template.BasePath "/secrets.yaml") . | sha256sum }}
{{- end }}

{{/* "Prefer different Kubernetes nodes" for one component, used when affinity is empty. */}}
{{- define "weir.defaultAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "weir.selectorLabels" . | nindent 12 }}
{{- end }}
