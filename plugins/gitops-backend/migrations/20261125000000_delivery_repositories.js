// @ts-check

/**
 * Delivery repositories registered per catalog entity.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_delivery_repositories', table => {
    table.comment('Repositories Flux delivers catalog entities from');
    table.string('id').primary().notNullable();
    table
      .string('entity_ref')
      .notNullable()
      .comment('e.g. component:default/podinfo');
    table.text('url').notNullable().comment('The URL as registered');
    table
      .string('normalized_url', 512)
      .notNullable()
      .comment(
        'git:<host>/<path> or oci:<host>/<path>, for matching Flux sources',
      );
    table.string('kind', 8).notNullable().comment('git or oci');
    table.string('ref').nullable();
    table
      .string('path', 512)
      .notNullable()
      .defaultTo('')
      .comment('Empty for the root');
    table
      .text('clusters')
      .nullable()
      .comment('JSON array of cluster names; null for all');
    table.string('origin', 16).notNullable().comment('annotation or api');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.unique(['entity_ref', 'normalized_url', 'path'], {
      indexName: 'gitops_delivery_repositories_entity_url_path_uniq',
    });
    table.index('normalized_url', 'gitops_delivery_repositories_url_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_delivery_repositories');
};
