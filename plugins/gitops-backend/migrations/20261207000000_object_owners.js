// @ts-check

/**
 * Which entity owns each object the backend created on a cluster (bootstrap's sources,
 * Kustomizations and Secrets), so one entity never overwrites another's.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_object_owners', table => {
    table.comment('The entity each object the backend created belongs to');
    table.string('cluster').notNullable();
    table.string('kind', 63).notNullable();
    table.string('namespace', 253).notNullable();
    table.string('name', 253).notNullable();
    table.string('entity_ref').notNullable();
    table.string('created_by').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.primary(['cluster', 'kind', 'namespace', 'name']);
    table.index(['entity_ref'], 'gitops_object_owners_entity_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_object_owners');
};
