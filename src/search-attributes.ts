import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes that make a run findable in the Temporal Web UI
 * (`OutdialBusinessId = "…"`). Registered by the dev server at start and by the worker elsewhere.
 */
export const BUSINESS_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey('OutdialBusinessId', 'KEYWORD');
export const RUN_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey('OutdialRunId', 'KEYWORD');

export const OUTDIAL_SEARCH_ATTRIBUTES = [BUSINESS_ID_SEARCH_ATTRIBUTE, RUN_ID_SEARCH_ATTRIBUTE] as const;
