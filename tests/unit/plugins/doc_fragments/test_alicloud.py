from __future__ import annotations

import yaml

from ansible_collections.alicloud.ecs.plugins.doc_fragments.alicloud import ModuleDocFragment
from ansible_collections.alicloud.ecs.plugins.module_utils import credentials
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import connection_argument_spec


def test_the_plugins_variant_documents_the_environment_in_lookup_order():
    modules = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    plugins = yaml.safe_load(ModuleDocFragment.PLUGINS)
    assert set(plugins['options']) == set(modules['options']) == set(connection_argument_spec())
    environment = dict((name, [entry['name'] for entry in spec['env']]) for name, spec in plugins['options'].items() if 'env' in spec)
    assert environment == {
        'access_key_id': list(credentials.ENV_ACCESS_KEY_ID),
        'access_key_secret': list(credentials.ENV_ACCESS_KEY_SECRET),
        'security_token': list(credentials.ENV_SECURITY_TOKEN),
        'profile': list(credentials.ENV_PROFILE),
        'shared_credentials_file': list(credentials.ENV_SHARED_CREDENTIALS_FILE),
        'region_id': list(credentials.ENV_REGION),
    }
    # Modules take no env entries; their descriptions say which variables they read.
    assert not any('env' in spec for spec in modules['options'].values())


def test_the_plugins_variant_speaks_of_plugins_not_tasks():
    text = ModuleDocFragment.PLUGINS
    assert 'task' not in text.replace('tasks.', '')
    assert 'options in the configuration file' in text
    plugins = yaml.safe_load(text)
    for name, spec in yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options'].items():
        for key in ('type', 'default', 'choices', 'aliases', 'elements', 'required'):
            assert plugins['options'][name].get(key) == spec.get(key), (name, key)


# The only differences the plugins' variant may have in the options' text: where the option is set and who fails.
PLUGIN_WORDING = [
    ('options of the task', 'options in the configuration file'),
    ('The module never falls back', 'The plugin never falls back'),
    ('fails the task', 'fails the plugin'),
    ('the task fails', 'the plugin fails'),
]


def test_the_plugins_variant_takes_its_env_entries_from_the_credentials_table():
    plugins = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']
    documented = {name: [entry['name'] for entry in spec['env']] for name, spec in plugins.items() if 'env' in spec}
    assert documented == {name: list(variables) for name, variables in credentials.ENV_BY_OPTION.items()}


def test_the_two_static_variants_document_the_same_options_in_the_same_words():
    modules = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    plugins = yaml.safe_load(ModuleDocFragment.PLUGINS)
    assert list(plugins['options']) == list(modules['options'])
    assert plugins['requirements'] == modules['requirements']
    for name, spec in modules['options'].items():
        expected = dict(spec)
        for task_words, plugin_words in PLUGIN_WORDING:
            expected['description'] = [line.replace(task_words, plugin_words) for line in expected['description']]
        actual = {key: value for key, value in plugins['options'][name].items() if key != 'env'}
        assert actual == expected, name
