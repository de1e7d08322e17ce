/// The OpenAPI 3.1 document of the facade, served at `GET /api/v1/analytics/openapi.json`.
///
/// Hand-written; `OpenAPITests` checks that every route of `Endpoint` is in it with its method, and that
/// every path in it is a route. Change both together.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Tally analytics API",
    "version": "1.0.0",
    "description": "Cost records of LLM calls in, usage series and cost breakdowns out. Errors are application/problem+json. Money is cost_cents, an exact decimal string."
  },
  "servers": [
    {
      "url": "http://127.0.0.1:8080"
    }
  ],
  "security": [
    {
      "bearer": []
    }
  ],
  "paths": {
    "/api/v1/analytics/anomalies/detect": {
      "post": {
        "operationId": "detectAnomalies",
        "summary": "Run anomaly detection now",
        "description": "Writer or admin keys (reader keys are read-only: 403). Runs the four rules (ABSOLUTE_SPIKE, SUSTAINED_DRIFT on the UTC days of from..to at tenant, feature and user level; BUDGET_WARNING, BUDGET_EXCEEDED on each budget's current period) for the key's tenant, or for an admin's tenant_id (every tenant when absent). Default window: the 30 complete UTC days before today. Re-running updates ongoing episodes instead of duplicating them and resolves those whose condition ended; HIGH anomalies and exceeded budgets open (or join) an incident. The server also runs this every --detect-interval seconds (default 3600).",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          }
        ],
        "responses": {
          "200": {
            "description": "What the run created, updated and resolved, per tenant",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/DetectionReport"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/statistics/anomalies": {
      "get": {
        "operationId": "listAnomalies",
        "summary": "Anomalies, filtered",
        "description": "Reader or admin keys. Anomalies whose days overlap from..to, newest last day first.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          },
          {
            "name": "type",
            "in": "query",
            "required": false,
            "description": "One rule.",
            "schema": {
              "type": "string",
              "enum": [
                "ABSOLUTE_SPIKE",
                "SUSTAINED_DRIFT",
                "BUDGET_WARNING",
                "BUDGET_EXCEEDED"
              ]
            }
          },
          {
            "name": "severity",
            "in": "query",
            "required": false,
            "description": "One severity band.",
            "schema": {
              "type": "string",
              "enum": [
                "LOW",
                "MEDIUM",
                "HIGH"
              ]
            }
          },
          {
            "name": "entity_level",
            "in": "query",
            "required": false,
            "description": "tenant, feature or user.",
            "schema": {
              "type": "string",
              "enum": [
                "tenant",
                "feature",
                "user"
              ]
            }
          },
          {
            "name": "entity_value",
            "in": "query",
            "required": false,
            "description": "The feature tag or user id (with entity_level feature or user).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "resolved",
            "in": "query",
            "required": false,
            "description": "true: resolved only; false: open only.",
            "schema": {
              "type": "boolean"
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "Most anomalies returned (default 100).",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 1000
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The anomalies",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AnomalyList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/anomalies/settings": {
      "get": {
        "operationId": "getAnomalySettings",
        "summary": "The tenant's anomaly thresholds",
        "description": "Reader or admin keys (admin keys name tenant_id). The seed's defaults until the tenant sets its own.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          }
        ],
        "responses": {
          "200": {
            "description": "The thresholds",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AnomalySettings"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "put": {
        "operationId": "updateAnomalySettings",
        "summary": "Change the tenant's anomaly thresholds",
        "description": "Admin keys (like budgets: an application must not silence its own alerts). Members left out keep their value; each invalid member is named.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/AnomalySettingsInput"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The thresholds",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AnomalySettings"
                }
              }
            }
          },
          "415": {
            "description": "The body is not application/json",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/anomalies/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The anomaly id (anm_...)."
        }
      ],
      "get": {
        "operationId": "getAnomaly",
        "summary": "One anomaly",
        "description": "Reader or admin keys. Another tenant's anomaly is 404.",
        "responses": {
          "200": {
            "description": "The anomaly",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AnomalyAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such anomaly for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/anomalies/{id}/resolve": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The anomaly id (anm_...)."
        }
      ],
      "post": {
        "operationId": "resolveAnomaly",
        "summary": "Resolve an anomaly by hand",
        "description": "Writer or admin keys. Audited. Resolving a resolved anomaly changes nothing; a manually resolved anomaly is not reopened by detection.",
        "responses": {
          "200": {
            "description": "The anomaly",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AnomalyAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such anomaly for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/incidents": {
      "get": {
        "operationId": "listIncidents",
        "summary": "Incidents, newest first",
        "description": "Reader or admin keys.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "name": "status",
            "in": "query",
            "required": false,
            "description": "One status.",
            "schema": {
              "type": "string",
              "enum": [
                "open",
                "acknowledged",
                "resolved"
              ]
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "Most incidents returned (default 100).",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 1000
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The incidents",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/IncidentList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/incidents/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The incident id (inc_...)."
        }
      ],
      "get": {
        "operationId": "getIncident",
        "summary": "One incident with its anomalies and cost impact",
        "description": "Reader or admin keys. Another tenant's incident is 404.",
        "responses": {
          "200": {
            "description": "The incident",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Incident"
                }
              }
            }
          },
          "404": {
            "description": "No such incident for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/incidents/{id}/acknowledge": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The incident id (inc_...)."
        }
      ],
      "post": {
        "operationId": "acknowledgeIncident",
        "summary": "Acknowledge an open incident",
        "description": "Writer or admin keys. Audited; the tenant's webhook gets incident.acknowledged. 409 unless the incident is open.",
        "responses": {
          "200": {
            "description": "The incident",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Incident"
                }
              }
            }
          },
          "404": {
            "description": "No such incident for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The incident is not open",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/incidents/{id}/resolve": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The incident id (inc_...)."
        }
      ],
      "post": {
        "operationId": "resolveIncident",
        "summary": "Resolve an open or acknowledged incident",
        "description": "Writer or admin keys. Audited; the tenant's webhook gets incident.resolved. 409 when it is already resolved.",
        "responses": {
          "200": {
            "description": "The incident",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Incident"
                }
              }
            }
          },
          "404": {
            "description": "No such incident for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The incident is already resolved",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/webhook": {
      "get": {
        "operationId": "getWebhook",
        "summary": "The tenant's incident webhook",
        "description": "Writer or admin keys (admin keys name tenant_id). The secret is never shown. 404 when none is set.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          }
        ],
        "responses": {
          "200": {
            "description": "The webhook",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Webhook"
                }
              }
            }
          },
          "404": {
            "description": "No webhook",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "put": {
        "operationId": "setWebhook",
        "summary": "Set the tenant's incident webhook",
        "description": "Writer or admin keys. On every incident state change (opened, acknowledged, resolved) the server POSTs a JSON body {event, delivery_id, occurred_at, previous_status, incident} to url with headers X-Tally-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with secret> and X-Tally-Delivery: <delivery id>. A non-2xx answer or a failed connection is retried with exponential backoff (the same delivery id); a delivered change is never sent again. The url must reach a public address: loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10), unspecified, multicast and reserved addresses in any spelling (IPv4-mapped too) and localhost names are refused here (400, parameter url) and, after resolution, on every delivery (recorded as a failed attempt), unless the server runs with --allow-private-webhooks.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/WebhookInput"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The webhook",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Webhook"
                }
              }
            }
          },
          "415": {
            "description": "The body is not application/json",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "delete": {
        "operationId": "deleteWebhook",
        "summary": "Remove the tenant's webhook",
        "description": "Writer or admin keys. Pending deliveries are dropped.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          }
        ],
        "responses": {
          "204": {
            "description": "Deleted"
          },
          "404": {
            "description": "No webhook",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/records": {
      "post": {
        "operationId": "ingestRecords",
        "summary": "Store a batch of cost records",
        "description": "Writer or admin keys. A tenant key's records for another tenant are rejected (field tenant_id). By default a batch with any bad record stores nothing (422, listing the first 1000 errors by line, with rejected.count records and rejected.error_count errors in all); on_error=skip stores the good ones. A body with no records (empty, blank lines, a CSV header alone, []) is 400 (parameter body); so is a gzip body whose CRC-32/length trailer is missing or wrong (parameter Content-Encoding). created_at must be a full RFC 3339 timestamp with a time and an offset (a bare date is a bad record). Returns after the stored records are durable.",
        "parameters": [
          {
            "name": "on_error",
            "in": "query",
            "schema": {
              "type": "string",
              "enum": [
                "reject",
                "skip"
              ],
              "default": "reject"
            }
          },
          {
            "name": "Idempotency-Key",
            "in": "header",
            "description": "1-255 visible ASCII characters; a retry with the same key and body gets the first answer (header Idempotent-Replayed: true) for 24 hours.",
            "schema": {
              "type": "string",
              "maxLength": 255
            }
          },
          {
            "name": "Content-Encoding",
            "in": "header",
            "schema": {
              "type": "string",
              "enum": [
                "identity",
                "gzip"
              ]
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/x-ndjson": {
              "schema": {
                "type": "string"
              }
            },
            "application/json": {
              "schema": {
                "type": "array",
                "items": {
                  "type": "object"
                }
              }
            },
            "text/csv": {
              "schema": {
                "type": "string"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Stored: per-record receipt",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/IngestReceipt"
                }
              }
            }
          },
          "409": {
            "description": "The Idempotency-Key is being answered by another request",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "413": {
            "description": "Body over the configured limit (also after decompression)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "Unsupported Content-Type or Content-Encoding",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid records (nothing stored; errors lists line, field, reason) or an Idempotency-Key reused for a different body",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "503": {
            "description": "The store cannot take writes",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/statistics/usage": {
      "get": {
        "operationId": "usage",
        "summary": "Usage series with signals",
        "description": "Reader or admin keys. Every bucket of the window, zeros included; signals: change against the previous window of the same length, peak bucket, data freshness.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          },
          {
            "name": "resolution",
            "in": "query",
            "required": false,
            "description": "Bucket width (default day).",
            "schema": {
              "type": "string",
              "enum": [
                "hour",
                "day"
              ]
            }
          },
          {
            "name": "scope",
            "in": "query",
            "required": false,
            "description": "org (default), project (needs project_id) or env (needs environment).",
            "schema": {
              "type": "string",
              "enum": [
                "org",
                "project",
                "env"
              ]
            }
          },
          {
            "name": "project_id",
            "in": "query",
            "required": false,
            "description": "The project of scope=project (narrows scope=env).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "environment",
            "in": "query",
            "required": false,
            "description": "The environment of scope=env (narrows scope=project).",
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The usage report",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/UsageReport"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/statistics/cost": {
      "get": {
        "operationId": "cost",
        "summary": "Cost breakdown, or the summary without group_by",
        "description": "Reader or admin keys. With group_by: the first limit groups in order, with optional per-group series and trailing daily baselines. Without: totals and the top five feature tags, users and models.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          },
          {
            "name": "group_by",
            "in": "query",
            "required": false,
            "description": "Comma-separated or repeated: feature, user, model, project, environment, workflow, skill, tenant (admin keys only).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "Groups returned (default 10).",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 1000
            }
          },
          {
            "name": "order",
            "in": "query",
            "required": false,
            "description": "Group order (default cost, descending).",
            "schema": {
              "type": "string",
              "enum": [
                "cost",
                "records",
                "tokens",
                "input_tokens",
                "output_tokens",
                "key"
              ]
            }
          },
          {
            "name": "resolution",
            "in": "query",
            "required": false,
            "description": "Adds a series per group (per the totals for the summary).",
            "schema": {
              "type": "string",
              "enum": [
                "hour",
                "day"
              ]
            }
          },
          {
            "name": "trailing_days",
            "in": "query",
            "required": false,
            "description": "Adds each group's average daily cost over this many days ending on each day (needs group_by; not with resolution=hour).",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 366
            }
          },
          {
            "name": "project_id",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose project_id is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "environment",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose environment is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "user_id",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose user_id is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "feature_tag",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose feature_tag is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "workflow_id",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose workflow_id is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "skill_id",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose skill_id is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "model",
            "in": "query",
            "required": false,
            "description": "Filter: only records whose model is one of the values (repeatable).",
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "A breakdown (with group_by) or the summary",
            "content": {
              "application/json": {
                "schema": {
                  "oneOf": [
                    {
                      "$ref": "#/components/schemas/CostReport"
                    },
                    {
                      "$ref": "#/components/schemas/CostSummary"
                    }
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/pricing": {
      "get": {
        "operationId": "pricing",
        "summary": "The price table",
        "description": "Any key. Per model, its prices (cents per million input and output tokens, exact decimal strings) with the dates they are in force; records without cost_cents are priced from the one in force at their created_at. configured is false when the server runs without a price table.",
        "responses": {
          "200": {
            "description": "The price table",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Pricing"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/api/v1/analytics/budgets": {
      "post": {
        "operationId": "createBudget",
        "summary": "Create a budget",
        "description": "Admin keys (writer keys live in the applications a budget limits; reader keys are for dashboards); tenant_id is required. One budget per tenant, level, subject and period. Answers 201 with the budget, its current status and a Location header.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/BudgetInput"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BudgetAnswer"
                }
              }
            }
          },
          "409": {
            "description": "The tenant already has a budget for this level, subject and period",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "The body is not application/json",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "get": {
        "operationId": "listBudgets",
        "summary": "Budgets with their current status",
        "description": "Reader or admin keys. A tenant key sees its tenant's budgets; an admin key every tenant's, or tenant_id's.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          }
        ],
        "responses": {
          "200": {
            "description": "The budgets",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BudgetList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/budgets/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The budget id (bud_...)."
        }
      ],
      "get": {
        "operationId": "getBudget",
        "summary": "One budget with its current status",
        "description": "Reader or admin keys. Another tenant's budget is 404.",
        "responses": {
          "200": {
            "description": "The budget",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BudgetAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such budget for this key",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "patch": {
        "operationId": "updateBudget",
        "summary": "Change a budget's limit, warn ratio or enforcement",
        "description": "Admin keys. tenant_id, level, feature_tag, user_id and period cannot change (400 naming the field).",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/BudgetPatch"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The budget",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BudgetAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such budget",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "The body is not application/json",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "delete": {
        "operationId": "deleteBudget",
        "summary": "Delete a budget",
        "description": "Admin keys.",
        "responses": {
          "204": {
            "description": "Deleted"
          },
          "404": {
            "description": "No such budget",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/policy/check": {
      "post": {
        "operationId": "checkPolicy",
        "summary": "Allow, warn or deny a planned run",
        "description": "Any key of the tenant (admin keys name tenant_id). The enforced budgets that apply (the tenant's, feature_tag's and user_id's, each in its current UTC period) decide: deny when spent + estimate would pass a limit, warn when it would pass limit x warn_ratio, allow otherwise. deciding_budgets names the budgets with that outcome (for allow, the tightest); remaining_cents is the least left of any of them before the run. Active reservations count as spent (reserved_cents); the check itself reserves nothing (see policy/reservations).",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/PolicyCheckInput"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The decision",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/PolicyDecision"
                }
              }
            }
          },
          "415": {
            "description": "The body is not application/json",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/audit": {
      "get": {
        "operationId": "listAudit",
        "summary": "The audit log of changes to budgets, feature tags and keys",
        "description": "Reader or admin keys (writer keys live in applications and may not read it). A tenant key sees its tenant's entries only; an admin key every entry (including admin-key changes, which have no tenant), or tenant_id's. Newest first; each entry names the key that made the change (actor; cli for tally keys), when, and the entity before and after as JSON objects (before is null on create, after on delete). Page with limit and cursor = the previous page's next_cursor.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "name": "from",
            "in": "query",
            "required": false,
            "description": "Inclusive start of the change time: RFC 3339 or a date.",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "to",
            "in": "query",
            "required": false,
            "description": "Exclusive end of the change time: RFC 3339 or a date.",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "entity_type",
            "in": "query",
            "required": false,
            "description": "budget, feature_tag, api_key, ...",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "entity_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "action",
            "in": "query",
            "required": false,
            "description": "create, update, delete, revoke, ...",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "Entries per page, 1 to 1000 (default 100).",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 1000
            }
          },
          {
            "name": "cursor",
            "in": "query",
            "required": false,
            "description": "next_cursor of the previous page: continues with older entries.",
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "One page of entries, newest first",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AuditPage"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/reporting/exports": {
      "post": {
        "operationId": "createExport",
        "summary": "Export records, a usage series or a cost breakdown to a file",
        "description": "Reader or admin keys (admin keys name tenant_id). The file is written in the background under the data directory's exports/ folder; poll GET .../exports/{id} until status is ready, then download it. kind=records writes the cost records in the ingestion wire format (CSV with the contract's header, NDJSON, or a JSON array), so an export re-imports to the same totals; usage writes one row per hour or day bucket (resolution, default day); cost writes one row per group of group_by (default feature_tag), per bucket when resolution is given. from defaults to to minus 30 days, to to now. Exports expire after the server's export TTL (default 24 hours); the sweeper then deletes the file.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": ["kind", "format"],
                "additionalProperties": false,
                "properties": {
                  "tenant_id": {"type": "string"},
                  "kind": {"type": "string", "enum": ["records", "usage", "cost"]},
                  "format": {"type": "string", "enum": ["csv", "ndjson", "json"]},
                  "from": {"type": "string", "description": "RFC 3339 time or date, inclusive"},
                  "to": {"type": "string", "description": "RFC 3339 time or date, exclusive"},
                  "filters": {"type": "object", "description": "Dimension field name (project_id, environment, user_id, feature_tag, workflow_id, skill_id, model) to a value or an array of values", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
                  "group_by": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "description": "kind=cost only: feature, user, model, project, environment, workflow, skill"},
                  "resolution": {"type": "string", "enum": ["hour", "day"], "description": "kind usage or cost only"}
                }
              }
            }
          }
        },
        "responses": {
          "202": {
            "description": "Accepted; Location names the export",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}
          },
          "415": {
            "description": "The body is not application/json",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      },
      "get": {
        "operationId": "listExports",
        "summary": "The exports of the key's tenant, newest first",
        "description": "Reader or admin keys (admin keys: tenant_id narrows to one tenant).",
        "parameters": [{"$ref": "#/components/parameters/tenant_id"}],
        "responses": {
          "200": {
            "description": "The exports",
            "content": {"application/json": {"schema": {"type": "object", "properties": {"exports": {"type": "array", "items": {"$ref": "#/components/schemas/Export"}}}}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      }
    },
    "/api/v1/analytics/reporting/exports/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The export id (exp_...)."}],
      "get": {
        "operationId": "getExport",
        "summary": "The status of an export",
        "description": "Reader or admin keys. Another tenant's export is 404.",
        "responses": {
          "200": {"description": "The export", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
          "404": {"description": "No such export for this key", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      }
    },
    "/api/v1/analytics/reporting/exports/{id}/download": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The export id (exp_...)."}],
      "get": {
        "operationId": "downloadExport",
        "summary": "Download an export's file (streamed)",
        "description": "Reader or admin keys. Streams the file in 64 KiB chunks (constant memory); gzip-compressed on the fly (Content-Encoding: gzip) when the request sends Accept-Encoding: gzip or gzip=1.",
        "parameters": [{"name": "gzip", "in": "query", "required": false, "schema": {"type": "string", "enum": ["1", "0", "true", "false"]}}],
        "responses": {
          "200": {
            "description": "The file (Content-Disposition: attachment)",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}
          },
          "404": {"description": "No such export for this key, or it expired", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
          "409": {"description": "The export is not ready (pending or running) or failed", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      }
    },
    "/api/v1/analytics/policy/reservations": {
      "post": {
        "operationId": "createReservation",
        "summary": "Reserve an estimated cost against the enforced budgets",
        "description": "Any key of the tenant (admin keys name tenant_id), like policy/check. Holds estimated_cost_cents against every enforced budget that applies (the tenant's, feature_tag's and user_id's, current UTC periods) until it is settled, cancelled, or expires (ttl_seconds, default 900). A budget takes it when spent + active reservations + estimate stays at or below its limit; otherwise nothing is held and the answer is a 409 problem of type urn:tally:problem:budget-exceeded naming every budget it would exceed (budget_ids, remaining_cents = the least they leave, budgets). The check and the hold are one atomic step: concurrent reservations cannot overshoot a limit together. Answers 201 with the reservation and a Location header.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ReservationInput"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Reserved",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReservationAnswer"
                }
              }
            }
          },
          "409": {
            "description": "budget-exceeded: the estimate does not fit every applicable enforced budget",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/policy/reservations/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The reservation id (res_...)."
        }
      ],
      "get": {
        "operationId": "getReservation",
        "summary": "A reservation and its state",
        "description": "Any key of the tenant. state: active (holding), settled, cancelled, or expired (past expires_at without being settled or cancelled; holds nothing).",
        "responses": {
          "200": {
            "description": "The reservation",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReservationAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such reservation (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/policy/reservations/{id}/settle": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The reservation id (res_...)."
        }
      ],
      "post": {
        "operationId": "settleReservation",
        "summary": "Settle a reservation: release its hold",
        "description": "Any key of the tenant, with the run's actual_cost_cents (kept on the reservation). Settling only releases the hold: the run's cost record arrives through POST records. 409 when the reservation is already settled, cancelled or expired.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "actual_cost_cents"
                ],
                "properties": {
                  "actual_cost_cents": {
                    "type": "string",
                    "description": "cents >= 0, exact decimal string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Settled",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReservationAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such reservation (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The reservation is no longer active",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/policy/reservations/{id}/cancel": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The reservation id (res_...)."
        }
      ],
      "post": {
        "operationId": "cancelReservation",
        "summary": "Cancel a reservation: release its hold without a run",
        "description": "Any key of the tenant; no body. 409 when the reservation is already settled, cancelled or expired.",
        "responses": {
          "200": {
            "description": "Cancelled",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReservationAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such reservation (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The reservation is no longer active",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/reports/monthly": {
      "get": {
        "operationId": "monthlyReport",
        "summary": "A tenant's monthly report (JSON, CSV or a printable HTML page)",
        "description": "Reader or admin keys (admin keys name tenant_id). Totals; breakdowns by feature_tag, model, user_id and project_id (first 25 by cost, the rest as others, each with the previous month's cost); daily spend of the month and of the previous month; the comparison with the previous month and the cost change decomposed by sequential substitution into volume (requests), tokens per request, model mix (token shares) and price (cost per token of each model), whose parts add up exactly to the change; budgets measured over the month (monthly: spend and utilisation, projection while the month runs; daily: highest day and days over the limit); the month's anomalies and incidents. format=html is a self-contained printable page (print CSS, inline SVG charts, no scripts or external requests); format=csv is one table with a section column.",
        "parameters": [
          {"$ref": "#/components/parameters/tenant_id"},
          {"name": "tenant", "in": "query", "required": false, "description": "Another name of tenant_id (not both).", "schema": {"type": "string"}},
          {"name": "month", "in": "query", "required": false, "description": "YYYY-MM (UTC); default the current month.", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}},
          {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "csv", "html"], "default": "json"}}
        ],
        "responses": {
          "200": {
            "description": "The report",
            "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/MonthlyReport"}},
              "text/csv": {"schema": {"type": "string"}},
              "text/html": {"schema": {"type": "string"}}
            }
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      }
    },
    "/api/v1/analytics/feature-tags": {
      "post": {
        "operationId": "createFeatureTag",
        "summary": "Register a feature tag",
        "description": "Admin keys, like budgets (tags are configuration: writer keys live in applications, reader keys are for dashboards); tenant_id is required. Registration documents a tag (description, owner); it never gates ingestion: records with unregistered tags are stored like any other. Answers 201 with the tag, its spend over the last 30 days and a Location header. Audited.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/FeatureTagInput"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Registered",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/FeatureTagAnswer"
                }
              }
            }
          },
          "409": {
            "description": "The tenant already registered this tag",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "get": {
        "operationId": "listFeatureTags",
        "summary": "Registered tags with their spend, and the unregistered tags seen in the records",
        "description": "Reader or admin keys; one tenant (admin keys name tenant_id). Window: from/to, default the last 30 days. tags: every registered tag with its spend in the window (zero when no record carries it); unregistered: every other feature_tag the tenant's records carry in the window (including the default untagged), by cost descending, from one grouped query.",
        "parameters": [
          {
            "$ref": "#/components/parameters/tenant_id"
          },
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          }
        ],
        "responses": {
          "200": {
            "description": "The registry",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/FeatureTagList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/feature-tags/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The registration id (ftg_...)."
        }
      ],
      "get": {
        "operationId": "getFeatureTag",
        "summary": "A registered tag with its spend in the window",
        "description": "Reader or admin keys. Window: from/to, default the last 30 days.",
        "parameters": [
          {
            "$ref": "#/components/parameters/from"
          },
          {
            "$ref": "#/components/parameters/to"
          }
        ],
        "responses": {
          "200": {
            "description": "The tag",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/FeatureTagAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such tag (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "patch": {
        "operationId": "updateFeatureTag",
        "summary": "Change a tag's description or owner",
        "description": "Admin keys. tag and tenant_id cannot change (400 naming them). Audited with the tag before and after.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/FeatureTagPatch"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Changed",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/FeatureTagAnswer"
                }
              }
            }
          },
          "404": {
            "description": "No such tag (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      },
      "delete": {
        "operationId": "deleteFeatureTag",
        "summary": "Delete a tag's registration",
        "description": "Admin keys. Answers 204. Records keep their tag, which then lists as unregistered. Audited.",
        "responses": {
          "204": {
            "description": "Deleted"
          },
          "404": {
            "description": "No such tag (or another tenant's)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/api/v1/analytics/_status": {
      "get": {
        "operationId": "status",
        "summary": "Capability probe",
        "security": [],
        "responses": {
          "200": {
            "description": "Each capability with its state and endpoint",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Status"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          }
        }
      }
    },
    "/api/v1/analytics/health": {
      "get": {
        "operationId": "health",
        "summary": "Health: store open, WAL writable, disk space",
        "security": [],
        "responses": {
          "200": {
            "description": "Healthy",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            }
          },
          "503": {
            "description": "A check failed",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          }
        }
      }
    },
    "/api/v1/analytics/openapi.json": {
      "get": {
        "operationId": "openAPI",
        "summary": "This document",
        "security": [],
        "responses": {
          "200": {
            "description": "OpenAPI 3.1 document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/console": {
      "get": {
        "operationId": "console",
        "summary": "The web console (HTML)",
        "description": "A page served by this server: enter an API key (kept in the browser tab's session storage only), then see the usage series with the previous period, cost breakdowns, budgets, anomalies and incidents, and export records. Static files, no external requests (Content-Security-Policy: self only).",
        "security": [],
        "responses": {
          "200": {"description": "The console page", "content": {"text/html": {"schema": {"type": "string"}}}},
          "404": {"description": "The console's files are not installed beside this binary", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
      }
    },
    "/console/{file}": {
      "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string", "enum": ["console.js", "console.css"]}}],
      "get": {
        "operationId": "consoleAsset",
        "summary": "The console's script and style sheet",
        "security": [],
        "responses": {
          "200": {"description": "The file", "content": {"text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}},
          "404": {"description": "No such console file", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "security": [],
        "responses": {
          "200": {
            "description": "Prometheus text format 0.0.4",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from tally keys create (tly_...)."
      }
    },
    "parameters": {
      "tenant_id": {
        "name": "tenant_id",
        "in": "query",
        "required": false,
        "description": "Admin keys: the tenant to read (all tenants when absent). Tenant keys: optional, must be the key's own tenant.",
        "schema": {
          "type": "string",
          "pattern": "^[A-Za-z0-9._:-]{1,64}$"
        }
      },
      "from": {
        "name": "from",
        "in": "query",
        "required": false,
        "description": "Inclusive start: RFC 3339 (use Z or %2B for +) or a date (midnight UTC). Series windows widen to whole buckets.",
        "schema": {
          "type": "string"
        }
      },
      "to": {
        "name": "to",
        "in": "query",
        "required": false,
        "description": "Exclusive end: RFC 3339 or a date; default now.",
        "schema": {
          "type": "string"
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "A parameter is missing, malformed or out of range; parameter names it",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "Unauthorized": {
        "description": "Missing, unknown or revoked API key",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "Forbidden": {
        "description": "Wrong role for this route, or another tenant's data",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      }
    },
    "schemas": {
      "FeatureTagInput": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "tag",
          "description",
          "owner"
        ],
        "properties": {
          "tenant_id": {
            "type": "string",
            "description": "Required for admin keys."
          },
          "tag": {
            "type": "string",
            "description": "The feature_tag value records carry: 1 to 256 bytes, no control characters."
          },
          "description": {
            "type": "string",
            "description": "1 to 1024 bytes, not blank; tabs and newlines allowed."
          },
          "owner": {
            "type": "string",
            "description": "A team, person or address: 1 to 256 bytes, not blank."
          }
        }
      },
      "FeatureTagPatch": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "description": {
            "type": "string"
          },
          "owner": {
            "type": "string"
          }
        }
      },
      "FeatureTag": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant_id": {
            "type": "string"
          },
          "tag": {
            "type": "string"
          },
          "description": {
            "type": "string"
          },
          "owner": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "created_by": {
            "type": "string",
            "description": "The key that registered it"
          },
          "registered": {
            "type": "boolean"
          },
          "spend": {
            "$ref": "#/components/schemas/Totals"
          }
        }
      },
      "FeatureTagAnswer": {
        "type": "object",
        "properties": {
          "feature_tag": {
            "$ref": "#/components/schemas/FeatureTag"
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "FeatureTagList": {
        "type": "object",
        "properties": {
          "scope": {
            "type": "object",
            "properties": {
              "tenant_id": {
                "type": "string"
              }
            }
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "tags": {
            "type": "array",
            "description": "Registered tags, by tag",
            "items": {
              "$ref": "#/components/schemas/FeatureTag"
            }
          },
          "unregistered": {
            "type": "array",
            "description": "Tags seen in the window's records without a registration, by cost descending",
            "items": {
              "type": "object",
              "properties": {
                "tag": {
                  "type": "string"
                },
                "registered": {
                  "type": "boolean"
                },
                "spend": {
                  "$ref": "#/components/schemas/Totals"
                }
              }
            }
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "MonthlyReport": {
        "type": "object",
        "properties": {
          "tenant_id": {"type": "string"},
          "month": {"type": "string"},
          "window": {"type": "object"},
          "in_progress": {"type": "boolean"},
          "totals": {"type": "object"},
          "comparison": {
            "type": "object",
            "properties": {
              "previous_month": {"type": "string"},
              "previous_totals": {"type": "object"},
              "cost_cents_delta": {"type": "string"},
              "cost_change_pct": {"type": ["number", "null"]},
              "decomposition": {
                "type": "object",
                "description": "change_cents = volume_cents + tokens_per_request_cents + model_mix_cents + price_cents, exactly.",
                "properties": {
                  "method": {"type": "string"},
                  "change_cents": {"type": "string"},
                  "volume_cents": {"type": "string"},
                  "tokens_per_request_cents": {"type": "string"},
                  "model_mix_cents": {"type": "string"},
                  "price_cents": {"type": "string"}
                }
              }
            }
          },
          "breakdowns": {"type": "object", "description": "feature_tag, model, user_id, project_id: {key, groups, rows: [{value, records, input_tokens, output_tokens, total_tokens, cost_cents, share_pct, previous_cost_cents, change_cents, change_pct}], others}"},
          "daily": {"type": "array", "items": {"type": "object"}},
          "previous_daily": {"type": "array", "items": {"type": "object"}},
          "budgets": {"type": "array", "items": {"type": "object"}},
          "anomalies": {"type": "array", "items": {"type": "object"}},
          "incidents": {"type": "array", "items": {"type": "object"}},
          "provenance": {"type": "object"}
        }
      },
      "ReservationInput": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "estimated_cost_cents"
        ],
        "properties": {
          "tenant_id": {
            "type": "string",
            "description": "Required for admin keys."
          },
          "user_id": {
            "type": "string"
          },
          "feature_tag": {
            "type": "string"
          },
          "estimated_cost_cents": {
            "type": "string",
            "description": "cents >= 0, exact decimal string"
          },
          "ttl_seconds": {
            "type": "integer",
            "minimum": 1,
            "maximum": 86400,
            "description": "How long the hold lasts unless settled or cancelled (default 900; the server's --reservation-ttl)."
          }
        }
      },
      "ReservationAnswer": {
        "type": "object",
        "required": [
          "reservation",
          "generated_at"
        ],
        "properties": {
          "reservation": {
            "type": "object",
            "properties": {
              "id": {
                "type": "string"
              },
              "tenant_id": {
                "type": "string"
              },
              "user_id": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "feature_tag": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "estimated_cost_cents": {
                "type": "string"
              },
              "state": {
                "type": "string",
                "enum": [
                  "active",
                  "settled",
                  "cancelled",
                  "expired"
                ]
              },
              "created_at": {
                "type": "string",
                "format": "date-time"
              },
              "expires_at": {
                "type": "string",
                "format": "date-time"
              },
              "released_at": {
                "type": [
                  "string",
                  "null"
                ],
                "format": "date-time"
              },
              "actual_cost_cents": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "budget_ids": {
                "type": "array",
                "description": "The enforced budgets it holds against (empty when none applied)",
                "items": {
                  "type": "string"
                }
              }
            }
          },
          "budgets": {
            "type": "array",
            "description": "On creation only: each budget held, with limit_cents, spent_cents, reserved_cents (other active reservations), remaining_cents and remaining_after_cents",
            "items": {
              "$ref": "#/components/schemas/ReservationBudget"
            }
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "ReservationBudget": {
        "type": "object",
        "properties": {
          "budget_id": {
            "type": "string"
          },
          "level": {
            "type": "string"
          },
          "feature_tag": {
            "type": [
              "string",
              "null"
            ]
          },
          "user_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "period": {
            "type": "string"
          },
          "limit_cents": {
            "type": "string"
          },
          "spent_cents": {
            "type": "string"
          },
          "reserved_cents": {
            "type": "string"
          },
          "remaining_cents": {
            "type": "string"
          },
          "remaining_after_cents": {
            "type": "string"
          }
        }
      },
      "AnomalyDriver": {
        "type": "object",
        "properties": {
          "dimension": {
            "type": "string",
            "enum": [
              "model",
              "feature_tag",
              "user_id"
            ]
          },
          "value": {
            "type": "string"
          },
          "expected_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "actual_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "change_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "share_pct": {
            "type": [
              "number",
              "null"
            ],
            "description": "Share of the entity's change"
          }
        }
      },
      "Anomaly": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant_id": {
            "type": "string"
          },
          "type": {
            "type": "string",
            "enum": [
              "ABSOLUTE_SPIKE",
              "SUSTAINED_DRIFT",
              "BUDGET_WARNING",
              "BUDGET_EXCEEDED"
            ]
          },
          "severity": {
            "type": "string",
            "enum": [
              "LOW",
              "MEDIUM",
              "HIGH"
            ]
          },
          "entity": {
            "type": "object",
            "properties": {
              "level": {
                "type": "string",
                "enum": [
                  "tenant",
                  "feature",
                  "user"
                ]
              },
              "value": {
                "type": "string"
              },
              "budget_id": {
                "type": "string"
              }
            }
          },
          "first_day": {
            "type": "string",
            "format": "date-time"
          },
          "last_day": {
            "type": "string",
            "format": "date-time"
          },
          "days": {
            "type": "integer"
          },
          "expected_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "actual_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "impact_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "impact_pct": {
            "type": [
              "number",
              "null"
            ]
          },
          "drivers": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/AnomalyDriver"
            }
          },
          "status": {
            "type": "string",
            "enum": [
              "open",
              "resolved"
            ]
          },
          "resolved_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "resolved_by": {
            "type": [
              "string",
              "null"
            ]
          },
          "incident_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "detected_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "AnomalyAnswer": {
        "type": "object",
        "properties": {
          "anomaly": {
            "$ref": "#/components/schemas/Anomaly"
          }
        }
      },
      "AnomalyList": {
        "type": "object",
        "properties": {
          "window": {
            "type": "object",
            "description": "The from..to filter, when both were given"
          },
          "anomalies": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Anomaly"
            }
          },
          "count": {
            "type": "integer"
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "DetectionReport": {
        "type": "object",
        "properties": {
          "tenants": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "tenant_id": {
                  "type": "string"
                },
                "judged_from": {
                  "type": "string",
                  "format": "date-time"
                },
                "judged_through": {
                  "type": "string",
                  "format": "date-time"
                },
                "created": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                },
                "updated": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                },
                "resolved": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                },
                "incidents_opened": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                },
                "skipped": {
                  "type": "string",
                  "description": "present when the tenant was not judged: unreadable (quarantined) parts hold days the run reads"
                },
                "missing": {
                  "type": "array",
                  "description": "present with skipped: the tenant's unreadable parts and their hours",
                  "items": {
                    "$ref": "#/components/schemas/MissingPart"
                  }
                },
                "anomalies": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Anomaly"
                  }
                }
              }
            }
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "AnomalySettings": {
        "type": "object",
        "properties": {
          "tenant_id": {
            "type": "string"
          },
          "custom": {
            "type": "boolean"
          },
          "spike_factor": {
            "type": "number",
            "default": 1.4
          },
          "spike_days": {
            "type": "integer",
            "default": 2
          },
          "baseline_days": {
            "type": "integer",
            "default": 7
          },
          "drift_factor": {
            "type": "number",
            "default": 1.25
          },
          "drift_days": {
            "type": "integer",
            "default": 3
          },
          "drift_window_days": {
            "type": "integer",
            "default": 7
          },
          "minimum_daily_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "severity_low_pct": {
            "type": "integer",
            "default": 15
          },
          "severity_medium_pct": {
            "type": "integer",
            "default": 25
          },
          "severity_high_pct": {
            "type": "integer",
            "default": 40
          }
        }
      },
      "AnomalySettingsInput": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "tenant_id": {
            "type": "string"
          },
          "spike_factor": {
            "type": "number",
            "exclusiveMinimum": 1
          },
          "spike_days": {
            "type": "integer"
          },
          "baseline_days": {
            "type": "integer"
          },
          "drift_factor": {
            "type": "number",
            "exclusiveMinimum": 1
          },
          "drift_days": {
            "type": "integer"
          },
          "drift_window_days": {
            "type": "integer"
          },
          "minimum_daily_cents": {
            "type": "string",
            "description": "Exact decimal cents"
          },
          "severity_low_pct": {
            "type": "integer"
          },
          "severity_medium_pct": {
            "type": "integer"
          },
          "severity_high_pct": {
            "type": "integer"
          }
        }
      },
      "Incident": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant_id": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "open",
              "acknowledged",
              "resolved"
            ]
          },
          "severity": {
            "type": "string"
          },
          "title": {
            "type": "string"
          },
          "opened_at": {
            "type": "string",
            "format": "date-time"
          },
          "acknowledged_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "acknowledged_by": {
            "type": [
              "string",
              "null"
            ]
          },
          "resolved_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "resolved_by": {
            "type": [
              "string",
              "null"
            ]
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "anomaly_count": {
            "type": "integer"
          },
          "impact_cents": {
            "type": "string",
            "description": "Impact of its anomalies at the broadest entity level present (so nested entities are not counted twice)"
          },
          "anomalies": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Anomaly"
            }
          }
        }
      },
      "IncidentList": {
        "type": "object",
        "properties": {
          "incidents": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Incident"
            }
          },
          "count": {
            "type": "integer"
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "WebhookInput": {
        "type": "object",
        "required": [
          "url",
          "secret"
        ],
        "additionalProperties": false,
        "properties": {
          "tenant_id": {
            "type": "string"
          },
          "url": {
            "type": "string",
            "description": "http:// or https://"
          },
          "secret": {
            "type": "string",
            "minLength": 16,
            "maxLength": 256
          }
        }
      },
      "Webhook": {
        "type": "object",
        "properties": {
          "tenant_id": {
            "type": "string"
          },
          "url": {
            "type": "string"
          },
          "secret_set": {
            "type": "boolean"
          },
          "signature": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "deliveries": {
            "type": "object",
            "properties": {
              "pending": {
                "type": "integer"
              },
              "delivered": {
                "type": "integer"
              },
              "failed": {
                "type": "integer"
              }
            }
          }
        }
      },
      "Export": {
        "type": "object",
        "description": "An export and where to download it (download_url only while status is ready).",
        "properties": {
          "id": {"type": "string"},
          "tenant_id": {"type": "string"},
          "status": {"type": "string", "enum": ["pending", "running", "ready", "failed", "expired"]},
          "download_url": {"type": ["string", "null"]},
          "expires_at": {"type": "string", "format": "date-time"},
          "created_at": {"type": "string", "format": "date-time"},
          "completed_at": {"type": ["string", "null"], "format": "date-time"},
          "rows": {"type": "integer"},
          "bytes": {"type": "integer"},
          "media_type": {"type": "string"},
          "error": {"type": ["string", "null"]},
          "request": {"type": "object"}
        }
      },
      "AuditPage": {
        "type": "object",
        "required": [
          "scope",
          "entries",
          "next_cursor",
          "generated_at"
        ],
        "properties": {
          "scope": {
            "type": "object",
            "properties": {
              "tenant_id": {
                "type": [
                  "string",
                  "null"
                ]
              }
            }
          },
          "entries": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/AuditEntry"
            }
          },
          "next_cursor": {
            "type": [
              "string",
              "null"
            ],
            "description": "Pass as cursor for the next (older) page; null on the last page."
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "AuditEntry": {
        "type": "object",
        "required": [
          "id",
          "at",
          "actor",
          "tenant_id",
          "action",
          "entity_type",
          "entity_id",
          "before",
          "after"
        ],
        "properties": {
          "id": {
            "type": "integer",
            "description": "Increases with every entry."
          },
          "at": {
            "type": "string",
            "format": "date-time"
          },
          "actor": {
            "type": "string",
            "description": "The id of the key that made the change (key_...), or cli for tally keys."
          },
          "tenant_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "action": {
            "type": "string",
            "description": "create, update, delete, revoke, ..."
          },
          "entity_type": {
            "type": "string",
            "description": "budget, feature_tag, api_key, ..."
          },
          "entity_id": {
            "type": "string"
          },
          "before": {
            "type": [
              "object",
              "null"
            ],
            "description": "The entity before the change (null on create); keys never show their secret."
          },
          "after": {
            "type": [
              "object",
              "null"
            ],
            "description": "The entity after the change (null on delete)."
          }
        }
      },
      "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": [
          "type",
          "title",
          "status",
          "detail"
        ],
        "properties": {
          "type": {
            "type": "string",
            "description": "stable URN: urn:tally:problem:invalid-parameter, unauthorized, forbidden, not-found, method-not-allowed, body-too-large, unsupported-media-type, request-timeout, invalid-records, idempotency-key-reused, idempotency-key-in-use, conflict, budget-exceeded (409, with budget_ids, remaining_cents and budgets), storage-unavailable, internal-error"
          },
          "title": {
            "type": "string"
          },
          "status": {
            "type": "integer"
          },
          "detail": {
            "type": "string"
          },
          "parameter": {
            "type": "string",
            "description": "the query parameter or header at fault"
          },
          "errors": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/RecordError"
            },
            "description": "invalid-records only"
          },
          "receipt": {
            "$ref": "#/components/schemas/IngestReceipt"
          }
        }
      },
      "RecordError": {
        "type": "object",
        "required": [
          "line",
          "field",
          "reason"
        ],
        "properties": {
          "line": {
            "type": "integer"
          },
          "field": {
            "type": [
              "string",
              "null"
            ]
          },
          "reason": {
            "type": "string"
          }
        }
      },
      "IngestReceipt": {
        "type": "object",
        "required": [
          "status",
          "received",
          "inserted",
          "duplicates",
          "rejected"
        ],
        "properties": {
          "status": {
            "type": "string",
            "enum": [
              "stored",
              "rejected"
            ]
          },
          "received": {
            "type": "integer"
          },
          "inserted": {
            "type": "integer"
          },
          "duplicates": {
            "type": "object",
            "required": [
              "count",
              "lines"
            ],
            "properties": {
              "count": {
                "type": "integer"
              },
              "lines": {
                "type": "array",
                "items": {
                  "type": "integer"
                }
              }
            }
          },
          "rejected": {
            "type": "object",
            "required": [
              "count",
              "errors",
              "error_count",
              "truncated"
            ],
            "properties": {
              "count": {
                "type": "integer",
                "description": "rejected records"
              },
              "errors": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/RecordError"
                },
                "description": "the first errors by line, at most 1000"
              },
              "error_count": {
                "type": "integer",
                "description": "errors found in all (one per bad field or bad record)"
              },
              "truncated": {
                "type": "boolean"
              }
            }
          }
        }
      },
      "Totals": {
        "type": "object",
        "required": [
          "records",
          "input_tokens",
          "output_tokens",
          "total_tokens",
          "cost_cents"
        ],
        "properties": {
          "records": {
            "type": "integer",
            "format": "int64"
          },
          "input_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "output_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "total_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "cost_cents": {
            "type": "string",
            "pattern": "^-?[0-9]+\\.[0-9]{7}$",
            "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
            "example": "1234.5678900"
          }
        }
      },
      "Window": {
        "type": "object",
        "required": [
          "from",
          "to"
        ],
        "properties": {
          "from": {
            "type": "string",
            "format": "date-time"
          },
          "to": {
            "type": "string",
            "format": "date-time"
          },
          "resolution": {
            "type": "string",
            "enum": [
              "hour",
              "day"
            ]
          },
          "buckets": {
            "type": "integer"
          }
        }
      },
      "SeriesPoint": {
        "type": "object",
        "required": [
          "start",
          "records",
          "input_tokens",
          "output_tokens",
          "total_tokens",
          "cost_cents"
        ],
        "properties": {
          "start": {
            "type": "string",
            "format": "date-time"
          },
          "records": {
            "type": "integer",
            "format": "int64"
          },
          "input_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "output_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "total_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "cost_cents": {
            "type": "string",
            "pattern": "^-?[0-9]+\\.[0-9]{7}$",
            "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
            "example": "1234.5678900"
          },
          "trailing_average_cost_cents": {
            "type": "string",
            "pattern": "^-?[0-9]+\\.[0-9]{7}$",
            "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
            "example": "1234.5678900"
          }
        }
      },
      "Provenance": {
        "type": "object",
        "required": [
          "sources",
          "window",
          "aggregation",
          "generated_at"
        ],
        "properties": {
          "sources": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "name": {
                  "type": "string"
                },
                "snapshot_generation": {
                  "type": "integer"
                },
                "queries": {
                  "type": "integer"
                },
                "parts_read": {
                  "type": "integer"
                },
                "head_views_read": {
                  "type": "integer"
                },
                "hours_from_rollups": {
                  "type": "integer"
                },
                "rows_scanned": {
                  "type": "integer"
                },
                "rollups": {
                  "type": "boolean"
                }
              }
            }
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "aggregation": {
            "type": "string"
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          },
          "complete": {
            "type": "boolean",
            "description": "false when quarantined (unreadable) parts may hold rows of the tenants and range answered: the numbers lack their rows"
          },
          "missing": {
            "type": "array",
            "description": "present when complete is false: the unreadable parts of the answer's own tenants, with their hours",
            "items": {
              "$ref": "#/components/schemas/MissingPart"
            }
          }
        }
      },
      "MissingPart": {
        "type": "object",
        "description": "An unreadable (quarantined) part: whose rows, which hours, how many",
        "required": ["tenant_id", "part", "from", "to", "rows"],
        "properties": {
          "tenant_id": {"type": "string"},
          "part": {"type": "string"},
          "from": {"type": "string", "format": "date-time"},
          "to": {"type": "string", "format": "date-time"},
          "rows": {"type": "integer"}
        }
      },
      "UsageReport": {
        "type": "object",
        "required": [
          "scope",
          "window",
          "totals",
          "series",
          "signals",
          "provenance"
        ],
        "properties": {
          "scope": {
            "type": "object",
            "properties": {
              "tenant_id": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "kind": {
                "type": "string",
                "enum": [
                  "org",
                  "project",
                  "env"
                ]
              },
              "project_id": {
                "type": "string"
              },
              "environment": {
                "type": "string"
              }
            }
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "totals": {
            "$ref": "#/components/schemas/Totals"
          },
          "series": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/SeriesPoint"
            },
            "description": "every bucket of the window, zeros included"
          },
          "signals": {
            "type": "object",
            "required": [
              "change",
              "peak",
              "freshness"
            ],
            "properties": {
              "change": {
                "type": "object",
                "properties": {
                  "previous_window": {
                    "$ref": "#/components/schemas/Window"
                  },
                  "previous_totals": {
                    "$ref": "#/components/schemas/Totals"
                  },
                  "cost_cents_delta": {
                    "type": "string",
                    "pattern": "^-?[0-9]+\\.[0-9]{7}$",
                    "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
                    "example": "1234.5678900"
                  },
                  "cost_change_pct": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "records_delta": {
                    "type": "integer"
                  },
                  "records_change_pct": {
                    "type": [
                      "number",
                      "null"
                    ]
                  }
                }
              },
              "peak": {
                "oneOf": [
                  {
                    "$ref": "#/components/schemas/SeriesPoint"
                  },
                  {
                    "type": "null"
                  }
                ]
              },
              "freshness": {
                "type": "object",
                "properties": {
                  "newest_record_at": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "lag_seconds": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  }
                }
              }
            }
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "CostGroup": {
        "type": "object",
        "required": [
          "key",
          "records",
          "input_tokens",
          "output_tokens",
          "total_tokens",
          "cost_cents",
          "share_pct"
        ],
        "properties": {
          "key": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            },
            "description": "group key field names and values, in group_by order"
          },
          "records": {
            "type": "integer",
            "format": "int64"
          },
          "input_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "output_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "total_tokens": {
            "type": "integer",
            "format": "int64"
          },
          "cost_cents": {
            "type": "string",
            "pattern": "^-?[0-9]+\\.[0-9]{7}$",
            "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
            "example": "1234.5678900"
          },
          "share_pct": {
            "type": [
              "number",
              "null"
            ]
          },
          "series": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/SeriesPoint"
            }
          },
          "trailing": {
            "type": "object",
            "properties": {
              "days": {
                "type": "integer"
              },
              "through": {
                "type": "string",
                "format": "date-time"
              },
              "average_daily_cost_cents": {
                "type": "string",
                "pattern": "^-?[0-9]+\\.[0-9]{7}$",
                "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
                "example": "1234.5678900"
              },
              "previous_average_daily_cost_cents": {
                "type": "string",
                "pattern": "^-?[0-9]+\\.[0-9]{7}$",
                "description": "cents as an exact decimal with 7 fraction digits (nano-dollars)",
                "example": "1234.5678900"
              },
              "change_pct": {
                "type": [
                  "number",
                  "null"
                ]
              }
            }
          }
        }
      },
      "CostReport": {
        "type": "object",
        "required": [
          "scope",
          "window",
          "group_by",
          "order",
          "limit",
          "totals",
          "groups",
          "others",
          "provenance"
        ],
        "properties": {
          "scope": {
            "type": "object",
            "properties": {
              "tenant_id": {
                "type": [
                  "string",
                  "null"
                ]
              }
            }
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "group_by": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "order": {
            "type": "string"
          },
          "limit": {
            "type": "integer"
          },
          "totals": {
            "$ref": "#/components/schemas/Totals"
          },
          "groups": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/CostGroup"
            }
          },
          "others": {
            "$ref": "#/components/schemas/Totals"
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "CostSummary": {
        "type": "object",
        "required": [
          "scope",
          "window",
          "totals",
          "top",
          "provenance"
        ],
        "properties": {
          "scope": {
            "type": "object",
            "properties": {
              "tenant_id": {
                "type": [
                  "string",
                  "null"
                ]
              }
            }
          },
          "window": {
            "$ref": "#/components/schemas/Window"
          },
          "totals": {
            "$ref": "#/components/schemas/Totals"
          },
          "series": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/SeriesPoint"
            }
          },
          "top": {
            "type": "object",
            "properties": {
              "feature_tag": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/CostGroup"
                }
              },
              "user_id": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/CostGroup"
                }
              },
              "model": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/CostGroup"
                }
              }
            }
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "Health": {
        "type": "object",
        "required": [
          "status",
          "checks"
        ],
        "properties": {
          "status": {
            "type": "string",
            "enum": [
              "ok",
              "degraded",
              "failing"
            ],
            "description": "degraded (still 200): every check passed but parts are quarantined, so some answers are incomplete"
          },
          "checks": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "name": {
                  "type": "string"
                },
                "ok": {
                  "type": "boolean"
                },
                "degraded": {
                  "type": "boolean"
                },
                "detail": {
                  "type": "string"
                }
              }
            }
          }
        }
      },
      "Status": {
        "type": "object",
        "required": [
          "service",
          "api_version",
          "capabilities"
        ],
        "properties": {
          "service": {
            "type": "string"
          },
          "api_version": {
            "type": "string"
          },
          "capabilities": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "name",
                "state"
              ],
              "properties": {
                "name": {
                  "type": "string"
                },
                "state": {
                  "type": "string",
                  "enum": [
                    "available",
                    "degraded",
                    "enabled",
                    "disabled",
                    "planned"
                  ]
                },
                "endpoint": {
                  "type": "string"
                },
                "note": {
                  "type": "string"
                }
              }
            }
          }
        }
      },
      "Pricing": {
        "type": "object",
        "required": [
          "configured",
          "currency",
          "models",
          "generated_at"
        ],
        "properties": {
          "configured": {
            "type": "boolean"
          },
          "currency": {
            "type": "string",
            "const": "USD"
          },
          "models": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "model",
                "prices"
              ],
              "properties": {
                "model": {
                  "type": "string"
                },
                "prices": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "properties": {
                      "effective_from": {
                        "type": "string",
                        "format": "date-time"
                      },
                      "effective_to": {
                        "type": [
                          "string",
                          "null"
                        ],
                        "format": "date-time",
                        "description": "The next entry's start; null for the latest."
                      },
                      "in_force": {
                        "type": "boolean",
                        "description": "Whether this is the price in force now."
                      },
                      "input_per_million_cents": {
                        "type": "string",
                        "description": "Exact decimal."
                      },
                      "output_per_million_cents": {
                        "type": "string",
                        "description": "Exact decimal."
                      }
                    }
                  }
                }
              }
            }
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "BudgetInput": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "level",
          "period",
          "limit_cents"
        ],
        "properties": {
          "tenant_id": {
            "type": "string",
            "description": "Required for admin keys."
          },
          "level": {
            "type": "string",
            "enum": [
              "tenant",
              "feature",
              "user"
            ]
          },
          "feature_tag": {
            "type": "string",
            "description": "Required for level feature, refused otherwise."
          },
          "user_id": {
            "type": "string",
            "description": "Required for level user, refused otherwise."
          },
          "period": {
            "type": "string",
            "enum": [
              "daily",
              "monthly"
            ],
            "description": "UTC day or UTC calendar month."
          },
          "limit_cents": {
            "type": "string",
            "description": "Above 0, at most 1000000000; a string so it stays exact.",
            "pattern": "^[0-9]+(\\.[0-9]{1,7})?$"
          },
          "warn_ratio": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.8
          },
          "enforce": {
            "type": "boolean",
            "default": false,
            "description": "Whether the policy check denies runs that would exceed it."
          }
        }
      },
      "BudgetPatch": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "limit_cents": {
            "type": "string",
            "description": "cents, exact decimal string (up to 7 decimals)",
            "pattern": "^[0-9]+(\\.[0-9]{1,7})?$"
          },
          "warn_ratio": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1
          },
          "enforce": {
            "type": "boolean"
          }
        }
      },
      "Budget": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant_id": {
            "type": "string"
          },
          "level": {
            "type": "string",
            "enum": [
              "tenant",
              "feature",
              "user"
            ]
          },
          "feature_tag": {
            "type": [
              "string",
              "null"
            ]
          },
          "user_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "period": {
            "type": "string",
            "enum": [
              "daily",
              "monthly"
            ]
          },
          "limit_cents": {
            "type": "string",
            "description": "cents, exact decimal string (up to 7 decimals)",
            "pattern": "^[0-9]+(\\.[0-9]{1,7})?$"
          },
          "warn_ratio": {
            "type": "number"
          },
          "enforce": {
            "type": "boolean"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "current": {
            "type": "object",
            "description": "The current UTC period.",
            "properties": {
              "period_start": {
                "type": "string",
                "format": "date-time"
              },
              "period_end": {
                "type": "string",
                "format": "date-time",
                "description": "Exclusive."
              },
              "spent_cents": {
                "type": "string",
                "description": "cents, exact decimal string (up to 7 decimals)",
                "pattern": "^[0-9]+(\\.[0-9]{1,7})?$"
              },
              "remaining_cents": {
                "type": "string",
                "description": "limit - spent; negative when exceeded"
              },
              "utilization_pct": {
                "type": "number"
              },
              "state": {
                "type": "string",
                "enum": [
                  "ok",
                  "warning",
                  "exceeded"
                ],
                "description": "warning: spent > limit x warn_ratio; exceeded: spent > limit"
              },
              "burn_rate_cents_per_hour": {
                "type": [
                  "string",
                  "null"
                ],
                "description": "spent / hours elapsed in the period; null at its first instant"
              },
              "projected_spend_cents": {
                "type": "string",
                "description": "burn rate x the period's length"
              },
              "will_exceed": {
                "type": "boolean"
              },
              "projected_exceeded_at": {
                "type": [
                  "string",
                  "null"
                ],
                "format": "date-time",
                "description": "When spend passes the limit at the burn rate, if within the period and not yet"
              }
            }
          }
        }
      },
      "BudgetAnswer": {
        "type": "object",
        "properties": {
          "budget": {
            "$ref": "#/components/schemas/Budget"
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "BudgetList": {
        "type": "object",
        "properties": {
          "budgets": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Budget"
            }
          },
          "provenance": {
            "$ref": "#/components/schemas/Provenance"
          }
        }
      },
      "PolicyCheckInput": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "estimated_cost_cents"
        ],
        "properties": {
          "tenant_id": {
            "type": "string",
            "description": "Required for admin keys."
          },
          "user_id": {
            "type": "string"
          },
          "feature_tag": {
            "type": "string"
          },
          "estimated_cost_cents": {
            "type": "string",
            "description": "cents >= 0, exact decimal string"
          }
        }
      },
      "PolicyDecision": {
        "type": "object",
        "properties": {
          "decision": {
            "type": "string",
            "enum": [
              "allow",
              "warn",
              "deny"
            ]
          },
          "reason": {
            "type": "string"
          },
          "tenant_id": {
            "type": "string"
          },
          "estimated_cost_cents": {
            "type": "string"
          },
          "deciding_budgets": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "remaining_cents": {
            "type": [
              "string",
              "null"
            ],
            "description": "null when no enforced budget applies"
          },
          "budgets": {
            "type": "array",
            "description": "Every applicable enforced budget, most constraining first",
            "items": {
              "type": "object",
              "properties": {
                "budget_id": {
                  "type": "string"
                },
                "level": {
                  "type": "string"
                },
                "feature_tag": {
                  "type": [
                    "string",
                    "null"
                  ]
                },
                "user_id": {
                  "type": [
                    "string",
                    "null"
                  ]
                },
                "period": {
                  "type": "string"
                },
                "period_end": {
                  "type": "string",
                  "format": "date-time"
                },
                "limit_cents": {
                  "type": "string"
                },
                "warn_at_cents": {
                  "type": "string"
                },
                "spent_cents": {
                  "type": "string"
                },
                "reserved_cents": {
                  "type": "string",
                  "description": "Held by active reservations"
                },
                "remaining_cents": {
                  "type": "string",
                  "description": "limit - spent - reserved"
                },
                "remaining_after_cents": {
                  "type": "string"
                },
                "decision": {
                  "type": "string",
                  "enum": [
                    "allow",
                    "warn",
                    "deny"
                  ]
                }
              }
            }
          },
          "generated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      }
    }
  }
}
"""#
}
