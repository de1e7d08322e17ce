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
    "/api/v1/analytics/records": {
      "post": {
        "operationId": "ingestRecords",
        "summary": "Store a batch of cost records",
        "description": "Writer or admin keys. A tenant key's records for another tenant are rejected (field tenant_id). By default a batch with any bad record stores nothing (422); on_error=skip stores the good ones. Returns after the stored records are durable.",
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
        "description": "Any key of the tenant (admin keys name tenant_id). The enforced budgets that apply (the tenant's, feature_tag's and user_id's, each in its current UTC period) decide: deny when spent + estimate would pass a limit, warn when it would pass limit x warn_ratio, allow otherwise. deciding_budgets names the budgets with that outcome (for allow, the tightest); remaining_cents is the least left of any of them before the run. Nothing is reserved.",
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
            "description": "stable URN: urn:tally:problem:invalid-parameter, unauthorized, forbidden, not-found, method-not-allowed, body-too-large, unsupported-media-type, invalid-records, idempotency-key-reused, idempotency-key-in-use, storage-unavailable, internal-error"
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
              "truncated"
            ],
            "properties": {
              "count": {
                "type": "integer"
              },
              "errors": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/RecordError"
                }
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
          }
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
              "failing"
            ]
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
                "remaining_cents": {
                  "type": "string"
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
