/**
 * The subjects of C-Eval and CMMLU: the Chinese name each repository puts in its prompt and the
 * categories its averages are taken over.
 *
 * - C-Eval: `subject_mapping.json` of https://github.com/hkust-nlp/ceval (key → [English name,
 *   Chinese name, category]); 52 subjects in STEM, Social Science, Humanities and Other. The
 *   copy of that file read for this package gives `clinical_medicine` no category (its entry has
 *   two fields); it is counted under Other here, with the other medical subjects
 *   (`basic_medicine`, `physician`).
 * - CMMLU: `src/categories.py` of https://github.com/haonan-li/CMMLU (`name_en2zh`,
 *   `subcategories`, `categories`); 67 subjects. A subject is in every category one of its
 *   subcategories belongs to, so the China-specific subjects count twice (as in `mp_utils.py`'s
 *   `category2subject`).
 */

/** One subject of a benchmark. */
export interface SubjectInfo {
  /** The English name (C-Eval's; for CMMLU the key with spaces). */
  readonly en: string;
  /** The name the official prompt uses. */
  readonly zh: string;
  /** The categories whose averages include the subject. */
  readonly categories: readonly string[];
}

/** C-Eval's categories, in the order of its reports. */
export const CEVAL_CATEGORIES = ["STEM", "Social Science", "Humanities", "Other"] as const;

/** CMMLU's categories, in the order of its reports (`categories.py`). */
export const CMMLU_CATEGORIES = ["STEM", "Humanities", "Social Science", "Other", "China specific"] as const;

/** C-Eval: subject key (the file prefix, `computer_network_val.csv`) → names and category. */
export const CEVAL_SUBJECTS: Readonly<Record<string, SubjectInfo>> = {
  computer_network: { en: "Computer Network", zh: "计算机网络", categories: ["STEM"] },
  operating_system: { en: "Operating System", zh: "操作系统", categories: ["STEM"] },
  computer_architecture: { en: "Computer Architecture", zh: "计算机组成", categories: ["STEM"] },
  college_programming: { en: "College Programming", zh: "大学编程", categories: ["STEM"] },
  college_physics: { en: "College Physics", zh: "大学物理", categories: ["STEM"] },
  college_chemistry: { en: "College Chemistry", zh: "大学化学", categories: ["STEM"] },
  advanced_mathematics: { en: "Advanced Mathematics", zh: "高等数学", categories: ["STEM"] },
  probability_and_statistics: { en: "Probability and Statistics", zh: "概率统计", categories: ["STEM"] },
  discrete_mathematics: { en: "Discrete Mathematics", zh: "离散数学", categories: ["STEM"] },
  electrical_engineer: { en: "Electrical Engineer", zh: "注册电气工程师", categories: ["STEM"] },
  metrology_engineer: { en: "Metrology Engineer", zh: "注册计量师", categories: ["STEM"] },
  high_school_mathematics: { en: "High School Mathematics", zh: "高中数学", categories: ["STEM"] },
  high_school_physics: { en: "High School Physics", zh: "高中物理", categories: ["STEM"] },
  high_school_chemistry: { en: "High School Chemistry", zh: "高中化学", categories: ["STEM"] },
  high_school_biology: { en: "High School Biology", zh: "高中生物", categories: ["STEM"] },
  middle_school_mathematics: { en: "Middle School Mathematics", zh: "初中数学", categories: ["STEM"] },
  middle_school_biology: { en: "Middle School Biology", zh: "初中生物", categories: ["STEM"] },
  middle_school_physics: { en: "Middle School Physics", zh: "初中物理", categories: ["STEM"] },
  middle_school_chemistry: { en: "Middle School Chemistry", zh: "初中化学", categories: ["STEM"] },
  veterinary_medicine: { en: "Veterinary Medicine", zh: "兽医学", categories: ["STEM"] },
  college_economics: { en: "College Economics", zh: "大学经济学", categories: ["Social Science"] },
  business_administration: { en: "Business Administration", zh: "工商管理", categories: ["Social Science"] },
  marxism: { en: "Marxism", zh: "马克思主义基本原理", categories: ["Social Science"] },
  mao_zedong_thought: { en: "Mao Zedong Thought", zh: "毛泽东思想和中国特色社会主义理论体系概论", categories: ["Social Science"] },
  education_science: { en: "Education Science", zh: "教育学", categories: ["Social Science"] },
  teacher_qualification: { en: "Teacher Qualification", zh: "教师资格", categories: ["Social Science"] },
  high_school_politics: { en: "High School Politics", zh: "高中政治", categories: ["Social Science"] },
  high_school_geography: { en: "High School Geography", zh: "高中地理", categories: ["Social Science"] },
  middle_school_politics: { en: "Middle School Politics", zh: "初中政治", categories: ["Social Science"] },
  middle_school_geography: { en: "Middle School Geography", zh: "初中地理", categories: ["Social Science"] },
  modern_chinese_history: { en: "Modern Chinese History", zh: "近代史纲要", categories: ["Humanities"] },
  ideological_and_moral_cultivation: { en: "Ideological and Moral Cultivation", zh: "思想道德修养与法律基础", categories: ["Humanities"] },
  logic: { en: "Logic", zh: "逻辑学", categories: ["Humanities"] },
  law: { en: "Law", zh: "法学", categories: ["Humanities"] },
  chinese_language_and_literature: { en: "Chinese Language and Literature", zh: "中国语言文学", categories: ["Humanities"] },
  art_studies: { en: "Art Studies", zh: "艺术学", categories: ["Humanities"] },
  professional_tour_guide: { en: "Professional Tour Guide", zh: "导游资格", categories: ["Humanities"] },
  legal_professional: { en: "Legal Professional", zh: "法律职业资格", categories: ["Humanities"] },
  high_school_chinese: { en: "High School Chinese", zh: "高中语文", categories: ["Humanities"] },
  high_school_history: { en: "High School History", zh: "高中历史", categories: ["Humanities"] },
  middle_school_history: { en: "Middle School History", zh: "初中历史", categories: ["Humanities"] },
  civil_servant: { en: "Civil Servant", zh: "公务员", categories: ["Other"] },
  sports_science: { en: "Sports Science", zh: "体育学", categories: ["Other"] },
  plant_protection: { en: "Plant Protection", zh: "植物保护", categories: ["Other"] },
  basic_medicine: { en: "Basic Medicine", zh: "基础医学", categories: ["Other"] },
  clinical_medicine: { en: "Clinical Medicine", zh: "临床医学", categories: ["Other"] },
  urban_and_rural_planner: { en: "Urban and Rural Planner", zh: "注册城乡规划师", categories: ["Other"] },
  accountant: { en: "Accountant", zh: "注册会计师", categories: ["Other"] },
  fire_engineer: { en: "Fire Engineer", zh: "注册消防工程师", categories: ["Other"] },
  environmental_impact_assessment_engineer: { en: "Environmental Impact Assessment Engineer", zh: "环境影响评价工程师", categories: ["Other"] },
  tax_accountant: { en: "Tax Accountant", zh: "税务师", categories: ["Other"] },
  physician: { en: "Physician", zh: "医师资格", categories: ["Other"] },
};

/** CMMLU: subject key (the file name, `test/agronomy.csv`) → names and categories. */
export const CMMLU_SUBJECTS: Readonly<Record<string, SubjectInfo>> = {
  agronomy: { en: "agronomy", zh: "农学", categories: ["Other"] },
  anatomy: { en: "anatomy", zh: "解剖学", categories: ["STEM"] },
  ancient_chinese: { en: "ancient chinese", zh: "古汉语", categories: ["Social Science", "China specific"] },
  arts: { en: "arts", zh: "艺术学", categories: ["Humanities"] },
  astronomy: { en: "astronomy", zh: "天文学", categories: ["STEM"] },
  business_ethics: { en: "business ethics", zh: "商业伦理", categories: ["Social Science"] },
  chinese_civil_service_exam: { en: "chinese civil service exam", zh: "中国公务员考试", categories: ["Social Science", "China specific"] },
  chinese_driving_rule: { en: "chinese driving rule", zh: "中国驾驶规则", categories: ["Other", "China specific"] },
  chinese_food_culture: { en: "chinese food culture", zh: "中国饮食文化", categories: ["Social Science", "China specific"] },
  chinese_foreign_policy: { en: "chinese foreign policy", zh: "中国外交政策", categories: ["Social Science", "China specific"] },
  chinese_history: { en: "chinese history", zh: "中国历史", categories: ["Humanities", "China specific"] },
  chinese_literature: { en: "chinese literature", zh: "中国文学", categories: ["Humanities", "China specific"] },
  chinese_teacher_qualification: { en: "chinese teacher qualification", zh: "中国教师资格", categories: ["Social Science", "China specific"] },
  clinical_knowledge: { en: "clinical knowledge", zh: "临床知识", categories: ["Other"] },
  college_actuarial_science: { en: "college actuarial science", zh: "大学精算学", categories: ["STEM"] },
  college_education: { en: "college education", zh: "大学教育学", categories: ["Social Science"] },
  college_engineering_hydrology: { en: "college engineering hydrology", zh: "大学工程水文学", categories: ["STEM"] },
  college_law: { en: "college law", zh: "大学法律", categories: ["Humanities"] },
  college_mathematics: { en: "college mathematics", zh: "大学数学", categories: ["STEM"] },
  college_medical_statistics: { en: "college medical statistics", zh: "大学医学统计", categories: ["STEM"] },
  college_medicine: { en: "college medicine", zh: "大学医学", categories: ["Other"] },
  computer_security: { en: "computer security", zh: "计算机安全", categories: ["Other"] },
  conceptual_physics: { en: "conceptual physics", zh: "概念物理学", categories: ["STEM"] },
  construction_project_management: { en: "construction project management", zh: "建设工程管理", categories: ["Other", "China specific"] },
  economics: { en: "economics", zh: "经济学", categories: ["Social Science"] },
  education: { en: "education", zh: "教育学", categories: ["Social Science"] },
  electrical_engineering: { en: "electrical engineering", zh: "电气工程", categories: ["STEM"] },
  elementary_chinese: { en: "elementary chinese", zh: "小学语文", categories: ["Social Science", "China specific"] },
  elementary_commonsense: { en: "elementary commonsense", zh: "小学常识", categories: ["Other", "China specific"] },
  elementary_information_and_technology: { en: "elementary information and technology", zh: "小学信息技术", categories: ["Other"] },
  elementary_mathematics: { en: "elementary mathematics", zh: "初等数学", categories: ["STEM"] },
  ethnology: { en: "ethnology", zh: "民族学", categories: ["Social Science", "China specific"] },
  food_science: { en: "food science", zh: "食品科学", categories: ["Other"] },
  genetics: { en: "genetics", zh: "遗传学", categories: ["STEM"] },
  global_facts: { en: "global facts", zh: "全球事实", categories: ["Humanities"] },
  high_school_biology: { en: "high school biology", zh: "高中生物", categories: ["STEM"] },
  high_school_chemistry: { en: "high school chemistry", zh: "高中化学", categories: ["STEM"] },
  computer_science: { en: "computer science", zh: "计算机科学", categories: ["STEM"] },
  high_school_geography: { en: "high school geography", zh: "高中地理", categories: ["Social Science"] },
  high_school_mathematics: { en: "high school mathematics", zh: "高中数学", categories: ["STEM"] },
  high_school_physics: { en: "high school physics", zh: "高中物理学", categories: ["STEM"] },
  high_school_politics: { en: "high school politics", zh: "高中政治", categories: ["Social Science", "China specific"] },
  human_sexuality: { en: "human sexuality", zh: "人类性行为", categories: ["Other"] },
  international_law: { en: "international law", zh: "国际法学", categories: ["Humanities"] },
  journalism: { en: "journalism", zh: "新闻学", categories: ["Social Science"] },
  jurisprudence: { en: "jurisprudence", zh: "法理学", categories: ["Humanities"] },
  legal_and_moral_basis: { en: "legal and moral basis", zh: "法律与道德基础", categories: ["Other"] },
  logical: { en: "logical", zh: "逻辑学", categories: ["Humanities"] },
  machine_learning: { en: "machine learning", zh: "机器学习", categories: ["STEM"] },
  management: { en: "management", zh: "管理学", categories: ["Social Science"] },
  marketing: { en: "marketing", zh: "市场营销", categories: ["Social Science"] },
  marxist_theory: { en: "marxist theory", zh: "马克思主义理论", categories: ["Humanities"] },
  modern_chinese: { en: "modern chinese", zh: "现代汉语", categories: ["Social Science", "China specific"] },
  nutrition: { en: "nutrition", zh: "营养学", categories: ["Other"] },
  philosophy: { en: "philosophy", zh: "哲学", categories: ["Humanities"] },
  professional_accounting: { en: "professional accounting", zh: "专业会计", categories: ["Social Science"] },
  professional_law: { en: "professional law", zh: "专业法学", categories: ["Humanities"] },
  professional_medicine: { en: "professional medicine", zh: "专业医学", categories: ["Other"] },
  professional_psychology: { en: "professional psychology", zh: "专业心理学", categories: ["Social Science"] },
  public_relations: { en: "public relations", zh: "公共关系", categories: ["Social Science"] },
  security_study: { en: "security study", zh: "安全研究", categories: ["Social Science"] },
  sociology: { en: "sociology", zh: "社会学", categories: ["Social Science"] },
  sports_science: { en: "sports science", zh: "体育学", categories: ["Other"] },
  traditional_chinese_medicine: { en: "traditional chinese medicine", zh: "中医中药", categories: ["Other", "China specific"] },
  virology: { en: "virology", zh: "病毒学", categories: ["STEM"] },
  world_history: { en: "world history", zh: "世界历史", categories: ["Humanities"] },
  world_religions: { en: "world religions", zh: "世界宗教", categories: ["Humanities"] },
};
