import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Logger } from '../logger';
import { OUTDIAL_SEARCH_ATTRIBUTES } from '../search-attributes';

/**
 * Registers Outdial's search attributes on a self-hosted cluster (the dev server registers them at
 * start). On Temporal Cloud the operator API is closed: create them in the Cloud UI or with tcld.
 */
export async function ensureSearchAttributes(client: Client, namespace: string, logger: Logger): Promise<void> {
  const operator = client.connection.operatorService;
  try {
    const existing = await operator.listSearchAttributes({ namespace });
    const missing = OUTDIAL_SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    logger.info({ registered: missing.map((k) => k.name) }, 'registered search attributes');
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, attributes: OUTDIAL_SEARCH_ATTRIBUTES.map((k) => k.name) },
      'could not register search attributes; create them as Keyword attributes on the namespace',
    );
  }
}
