export { OUTCOMES, type Classification, type Outcome } from './outcome.js';
export {
  BUILTIN_VARIABLES,
  FILTERS,
  SETTING_TYPES,
  TemplateFileSchema,
  type FilterName,
  type SettingSpec,
  type Template,
  type TemplateFile,
} from './template.js';
export { BUNDLED_TEMPLATES_DIR, loadTemplateFile, loadTemplates } from './load.js';
export { resolveSettings } from './settings.js';
export { renderPostback, RenderError, type RenderedRequest, type RenderInput } from './render.js';
export { redactRequest, redactText, secretSettingValues } from './redact.js';
export { classifyResponse, type ResponseAnswer } from './classify.js';
