{{/* Chart name, shortened to the 63 characters of a DNS label. */}}
{{- define "gldr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: "<release>-<chart>", or the release name when it already contains the chart name. */}}
{{- define "gldr.fullname" -}}
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

{{/* Name of the operator Deployment and of its namespaced RBAC objects. */}}
{{- define "gldr.operatorName" -}}
{{- printf "%s-operator" (include "gldr.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of cluster-scoped objects; the namespace keeps two releases of the same name apart. */}}
{{- define "gldr.clusterName" -}}
{{- printf "%s-%s-operator" .Release.Namespace (include "gldr.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gldr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gldr.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gldr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object the chart creates. */}}
{{- define "gldr.labels" -}}
helm.sh/chart: {{ include "gldr.chart" . }}
{{ include "gldr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gl-open-deepresearch
{{- end -}}

{{/* Labels that select the operator pod; never change them, because Deployment selectors are immutable. */}}
{{- define "gldr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gldr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "gldr.operatorImage" -}}
{{- $image := .Values.operator.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces watched in "namespaces" scope: watchNamespaces, or the release namespace. */}}
{{- define "gldr.watchNamespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- join "," (uniq .Values.operator.watchNamespaces) -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* Rules in the watched namespaces; the same as operator/rbac/ in the repository. */}}
{{- define "gldr.namespacedRules" -}}
- apiGroups: [research.gdplabs.id]
  resources: [deepresearchdeployments, researchprofiles]
  # patch: kopf keeps its bookkeeping annotations and finalizer on them.
  verbs: [get, list, watch, patch]
- apiGroups: [research.gdplabs.id]
  resources: [deepresearchdeployments/status, researchprofiles/status]
  verbs: [get, patch]
# Children: server-side apply needs patch; create covers the first apply.
- apiGroups: [""]
  resources: [configmaps, secrets, services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
# kopf posts warnings and errors as Events on the resource.
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* Cluster-wide read rules that kopf needs in every mode; without them it retries with 403 errors forever. */}}
{{- define "gldr.discoveryRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end -}}
