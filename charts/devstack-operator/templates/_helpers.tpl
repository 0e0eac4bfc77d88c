{{/* The release's full name: the release name when it already contains the chart name. */}}
{{- define "devstack-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "devstack-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "devstack-operator.labels" -}}
{{ include "devstack-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: devstack
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "devstack-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "devstack-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Leader election is on exactly when more than one replica runs ("true" / "false"). */}}
{{- define "devstack-operator.leaderElect" -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}

{{- define "devstack-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
What the operator does in a namespace it watches, verb by verb. The ClusterRole (all
namespaces) and each per-namespace Role share this list, so both modes grant the same.
  - devstacks: watch them, add/remove the finalizer (patch); status via its subresource;
    devstacks/finalizers update lets owner references block deletion where the
    OwnerReferencesPermissionEnforcement admission plugin is on.
  - secrets: the credentials Secret is created once and completed (patch), never deleted by
    the operator; the connections Secret is applied (patch) and pruned (delete) like the rest.
  - services, statefulsets, deployments, networkpolicies: server-side apply (patch creates
    too), watch what it owns, delete orphans of services removed from a stack.
  - persistentvolumeclaims: find a stack's claims and delete them when not retained.
  - events (events.k8s.io): the recorder creates an Event and patches its series.
*/}}
{{- define "devstack-operator.namespacedRules" -}}
- apiGroups: ["devstack.dev"]
  resources: ["devstacks"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["devstack.dev"]
  resources: ["devstacks/status"]
  verbs: ["patch"]
- apiGroups: ["devstack.dev"]
  resources: ["devstacks/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Cluster-wide, in both modes: wait until the DevStack CRD is Established (only that CRD). */}}
{{- define "devstack-operator.crdRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  resourceNames: ["devstacks.devstack.dev"]
  verbs: ["get", "list", "watch"]
{{- end -}}
