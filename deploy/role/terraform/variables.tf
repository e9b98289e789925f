# The private network auditor: the auditor's read-only role in an audited account.
# Generated from the auditor's call catalogue by `auditor permissions --format terraform`; do not edit by hand (regenerate instead).

variable "role_name" {
  type        = string
  description = "Name of the read-only role (the auditor's role_name / role_arn)."
  default     = "AuditorReadOnly"
  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "An IAM role name: 1-64 letters, digits and +=,.@_-."
  }
}

variable "trusted_principal" {
  type        = string
  description = "Who may assume the role (the auditor's identity): a 12-digit account id, or the ARN of an IAM role or user."
  validation {
    condition     = can(regex("^([0-9]{12}|arn:aws(-[a-z]+)*:iam::[0-9]{12}:(root|role/[\\w+=,.@/-]{1,512}|user/[\\w+=,.@/-]{1,512}))$", var.trusted_principal))
    error_message = "A 12-digit account id, or an IAM ARN of an account root, role or user."
  }
}

variable "external_id" {
  type        = string
  description = "Optional sts:ExternalId the assuming identity must present; empty: no condition."
  default     = ""
  validation {
    condition     = var.external_id == "" || can(regex("^[\\w+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "An external id: 2-1224 letters, digits and +=,.@:/_-."
  }
}

variable "max_session_duration" {
  type        = number
  description = "Longest session of the role, in seconds."
  default     = 3600
  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "IAM allows 3600 to 43200 seconds."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for the role."
  default     = {}
}
