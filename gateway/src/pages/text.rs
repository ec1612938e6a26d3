//! Every text the pages show, in Korean and English.
//!
//! One struct, one `const` instance per language: adding a field without writing it
//! in both languages does not compile. Texts that embed a name (site, provider) are
//! functions, so each language puts the name where its grammar wants it; the result
//! is still HTML-escaped by the template. Not here: markup, or any text that comes
//! from configuration (site and provider names are passed in by the gateway).

use super::Lang;

/// What to say about one kind of problem.
pub(super) struct ProblemText {
    pub title: &'static str,
    /// What happened, in one sentence.
    pub what: &'static str,
    /// What the citizen can do now.
    pub next: &'static str,
}

pub(super) struct Text {
    // Frame.
    pub brand: &'static str,
    pub brand_sub: &'static str,
    pub skip_link: &'static str,
    pub lang_nav_label: &'static str,
    pub footer: &'static str,
    pub error_prefix: &'static str,

    // Chooser.
    pub chooser_title: fn(&str) -> String,
    pub chooser_lead: &'static str,
    pub chooser_list_label: &'static str,
    pub chooser_none: &'static str,
    pub chooser_help_summary: &'static str,
    pub chooser_help_body: &'static str,
    pub cancel_to_site: &'static str,
    /// Above the providers not offered right now.
    pub chooser_off_heading: &'static str,
    /// Above the provider this device used last.
    pub chooser_last_heading: &'static str,
    /// Its button: "continue with Kakao".
    pub chooser_continue_with: fn(&str) -> String,
    /// Above the others, when one is offered as the last used.
    pub chooser_others_heading: &'static str,
    /// The button that makes this device forget it.
    pub chooser_forget: fn(&str) -> String,
    /// The filter box's label (more than eight providers).
    pub chooser_filter_label: &'static str,
    /// How many match, `{n}` replaced by the script.
    pub chooser_filter_count: &'static str,
    /// Why a provider is greyed out: its circuit is open.
    pub provider_failing: &'static str,
    /// Why a provider is greyed out: an operator turned it off (no reason given).
    pub provider_disabled: &'static str,

    // Identity form.
    pub logging_in_to: fn(&str) -> String,
    pub identify_title: fn(&str) -> String,
    /// The same two for a signing request.
    pub signing_for: fn(&str) -> String,
    pub sign_title: fn(&str) -> String,
    pub identify_lead: &'static str,
    /// Signing: the documents the citizen is about to sign.
    pub review_title: &'static str,
    pub review_lead: &'static str,
    pub name_label: &'static str,
    pub name_hint: &'static str,
    pub birthdate_label: &'static str,
    pub birthdate_hint: &'static str,
    pub phone_label: &'static str,
    pub phone_hint: &'static str,
    pub consent_label: fn(&str) -> String,
    pub consent_hint: &'static str,
    pub submit: &'static str,
    pub other_provider: &'static str,
    pub error_summary_title: &'static str,
    pub error_name: &'static str,
    pub error_birthdate: &'static str,
    pub error_phone: &'static str,
    pub error_consent: &'static str,

    // Waiting page.
    pub waiting_title: fn(&str) -> String,
    pub waiting_step_open: fn(&str) -> String,
    pub waiting_step_approve: &'static str,
    pub waiting_step_auto: &'static str,
    pub status_pending: &'static str,
    pub status_viewed: &'static str,
    pub status_done: &'static str,
    pub status_ended: &'static str,
    pub status_retrying: &'static str,
    pub status_expired: &'static str,
    pub status_one_minute: &'static str,
    pub time_left: &'static str,
    pub continue_link: &'static str,
    pub continue_hint: &'static str,
    pub cancel_login: &'static str,
    pub no_push_summary: &'static str,
    /// Above a wallet's QR code on the waiting page.
    pub wallet_qr_title: &'static str,
    pub wallet_qr_hint: fn(&str) -> String,
    pub wallet_qr_alt: fn(&str) -> String,
    /// The button opening a wallet on this phone with the same request.
    pub wallet_open_here: &'static str,
    pub no_push_body: &'static str,
    /// The waiting page, when the provider stopped answering meanwhile.
    pub down_title: fn(&str) -> String,
    pub down_body: &'static str,
    pub down_other: &'static str,

    // Error page.
    pub code_label: &'static str,
    pub txn_label: &'static str,
    /// Before what the site's developers must fix (an error page's detail).
    pub detail_label: &'static str,
    pub quote_hint: &'static str,
    pub retry: &'static str,
    pub back_to_site: &'static str,
    pub rejected: ProblemText,
    pub expired: ProblemText,
    pub provider_unavailable: ProblemText,
    pub verification_failed: ProblemText,
    pub wrong_person: ProblemText,
    pub signer_changed: ProblemText,
    pub person_unknown: ProblemText,
    pub session_expired: ProblemText,
    pub bad_request: ProblemText,
    pub unknown_client: ProblemText,
    pub invalid_redirect: ProblemText,
    /// Around the push's code on the waiting page.
    pub code_before: &'static str,
    pub code_after: &'static str,
    pub too_many_attempts: ProblemText,
    pub too_many_pushes: ProblemText,
    pub too_many_requests: ProblemText,
    pub too_many_device_codes: ProblemText,
    pub provider_busy: ProblemText,
    pub try_later: ProblemText,
    pub changed_elsewhere: ProblemText,
    pub internal: ProblemText,

    // Logged out.
    pub logged_out_title: &'static str,
    pub logged_out_body: &'static str,
    pub logout_unconfirmed_title: &'static str,
    pub logout_unconfirmed_body: &'static str,
    pub logout_frame_title: &'static str,

    // Logout confirmation (a logout nobody can prove the citizen asked for).
    // Device page (RFC 8628).
    pub device_title: &'static str,
    pub device_lead: &'static str,
    pub device_code_label: &'static str,
    pub device_code_hint: &'static str,
    pub device_code_wrong: &'static str,
    pub device_continue: &'static str,
    pub device_confirm_title: fn(&str) -> String,
    pub device_confirm_body: &'static str,
    pub device_confirm_code: &'static str,
    pub device_confirm_button: &'static str,
    pub device_cancel_button: &'static str,
    pub device_done_title: &'static str,
    pub device_done_body: &'static str,
    pub device_declined_title: &'static str,
    pub device_declined_body: &'static str,
    pub device_late_title: &'static str,
    pub device_late_body: &'static str,

    pub logout_confirm_title: &'static str,
    pub logout_confirm_body: &'static str,
    pub logout_confirm_retry: &'static str,
    pub logout_confirm_button: &'static str,
    pub logout_stay: &'static str,

    // Returning to a SAML site (the auto-posted form).
    pub returning_title: &'static str,
    pub returning_body: &'static str,
    pub continue_button: &'static str,

    // Demo site.
    pub demo_brand: &'static str,
    pub demo_tag: &'static str,
    pub demo_banner: &'static str,
    pub demo_home_title: &'static str,
    pub demo_home_lead: &'static str,
    pub demo_services: [&'static str; 3],
    pub demo_login: &'static str,
    pub demo_login_hint: &'static str,
    pub demo_result_title: &'static str,
    pub demo_result_lead: &'static str,
    pub demo_id_token: &'static str,
    pub demo_userinfo: &'static str,
    pub demo_raw_token: &'static str,
    pub demo_claim: &'static str,
    pub demo_value: &'static str,
    pub demo_none: &'static str,
    pub demo_logout: &'static str,
    pub demo_home: &'static str,
    pub demo_sign_link: &'static str,
    pub demo_sign_link_hint: &'static str,
    pub demo_sign_title: &'static str,
    pub demo_sign_lead: &'static str,
    pub demo_sign_doc_title: &'static str,
    pub demo_sign_doc_title_hint: &'static str,
    pub demo_sign_text: &'static str,
    pub demo_sign_text_hint: &'static str,
    pub demo_sign_file: &'static str,
    pub demo_sign_file_hint: &'static str,
    pub demo_sign_submit: &'static str,
    pub demo_sign_empty: &'static str,
    pub demo_sign_too_large: &'static str,
    pub demo_signed_title: &'static str,
    pub demo_signed_lead: &'static str,
    pub demo_signed_failed_title: &'static str,
    pub demo_signed_failed_lead: &'static str,
    pub demo_signed_pending_title: &'static str,
    pub demo_signed_reason: &'static str,
    pub demo_signed_request: &'static str,
    pub demo_signed_document: &'static str,
    pub demo_signed_digest: &'static str,
    pub demo_signed_provider: &'static str,
    pub demo_signed_signer: &'static str,
    pub demo_signed_time: &'static str,
    pub demo_signed_download: &'static str,
    pub demo_signed_download_hint: &'static str,
    pub demo_sign_again: &'static str,
    pub demo_away_heading: &'static str,
    pub demo_away_hint: &'static str,
    pub demo_cc_link: &'static str,
    pub demo_kiosk_link: &'static str,
    pub demo_cc_title: &'static str,
    pub demo_cc_lead: &'static str,
    pub demo_cc_birthdate_hint: &'static str,
    pub demo_cc_provider: &'static str,
    pub demo_cc_submit: &'static str,
    pub demo_cc_unsigned_note: &'static str,
    pub demo_cc_error: &'static str,
    pub demo_cc_wait_title: &'static str,
    pub demo_cc_read_code: &'static str,
    pub demo_cc_script: &'static str,
    pub demo_cc_no_code: &'static str,
    pub demo_kiosk_title: &'static str,
    pub demo_kiosk_lead: &'static str,
    pub demo_kiosk_code_label: &'static str,
    pub demo_kiosk_qr_alt: &'static str,
    pub demo_kiosk_address: &'static str,
    pub demo_kiosk_welcome: fn(&str) -> String,
    pub demo_away_waiting: &'static str,
    pub demo_away_check: &'static str,
    pub demo_away_done_title: &'static str,
    pub demo_away_failed_title: &'static str,
    pub demo_away_failed_lead: &'static str,
    pub demo_away_again: &'static str,
}

impl Text {
    pub(super) fn of(lang: Lang) -> &'static Text {
        match lang {
            Lang::Ko => &KO,
            Lang::En => &EN,
        }
    }
}

const KO: Text = Text {
    brand: "문지기",
    brand_sub: "공공 서비스 간편인증",
    skip_link: "본문 바로가기",
    lang_nav_label: "언어 선택",
    footer: "문지기는 공공 웹사이트와 민간 인증서를 이어 주는 통합 인증 관문입니다. \
             비밀번호나 인증서 비밀번호(PIN)는 묻지 않습니다. 인증은 휴대폰의 인증서 앱에서만 합니다.",
    error_prefix: "오류: ",

    chooser_title: |site| format!("{site} 로그인"),
    chooser_lead: "사용하시는 인증서를 선택하세요. 선택한 인증서 앱으로 본인 확인 요청을 보내 드립니다.",
    chooser_list_label: "인증서 목록",
    chooser_none: "지금 이 사이트에서 쓸 수 있는 인증서가 없습니다. 잠시 후 다시 시도하거나 사이트로 돌아가세요.",
    chooser_help_summary: "간편인증이 무엇인가요?",
    chooser_off_heading: "지금 이용할 수 없는 인증서",
    chooser_last_heading: "이 기기에서 최근에 쓴 인증서",
    chooser_continue_with: |provider| format!("{provider}{} 계속하기", euro(provider)),
    chooser_others_heading: "다른 인증서",
    chooser_forget: |provider| format!("이 기기에서 {provider} 기억 지우기"),
    chooser_filter_label: "인증서 이름으로 찾기",
    chooser_filter_count: "표시된 인증서: {n}개",
    provider_failing: "일시적으로 응답하지 않습니다. 다른 인증서를 선택해 주세요.",
    provider_disabled: "점검 중입니다. 다른 인증서를 선택해 주세요.",
    chooser_help_body: "카카오, 네이버, PASS, 토스처럼 휴대폰 앱에 발급받은 민간 인증서로 본인임을 확인하는 방법입니다. \
                        인증서가 없다면 사용하시는 앱에서 먼저 발급받으세요.",
    cancel_to_site: "취소하고 사이트로 돌아가기",

    logging_in_to: |site| format!("{site} 로그인"),
    identify_title: |provider| format!("{provider} 인증서로 로그인"),
    signing_for: |site| format!("{site} 전자서명"),
    sign_title: |provider| format!("{provider} 인증서로 서명"),
    review_title: "서명할 문서",
    review_lead: "아래 문서에 본인의 인증서로 전자서명합니다. 문서마다 지문(SHA-256)이 함께 서명됩니다.",
    identify_lead: "인증서에 등록된 본인 정보를 입력하세요. 입력한 휴대폰 번호의 인증서 앱으로 확인 요청이 갑니다.",
    name_label: "이름",
    name_hint: "인증서에 등록된 실명",
    birthdate_label: "생년월일",
    birthdate_hint: "예: 19900131 또는 900131. 6자리는 2000년대로 보되, 그 날짜가 오늘보다 뒤이면 1900년대로 봅니다(150101은 2015년, 900131은 1990년).",
    phone_label: "휴대폰 번호",
    phone_hint: "예: 010-1234-5678",
    consent_label: |provider| {
        format!("본인 확인을 위해 입력한 이름, 생년월일, 휴대폰 번호를 {provider}에 전달하는 데 동의합니다.")
    },
    consent_hint: "동의해야 인증 요청을 보낼 수 있습니다. 전달한 정보는 본인 확인에만 쓰입니다.",
    submit: "인증 요청 보내기",
    other_provider: "다른 인증서 선택",
    error_summary_title: "입력한 내용을 확인해 주세요",
    error_name: "이름을 50자 이내로 입력해 주세요.",
    error_birthdate: "생년월일을 8자리나 6자리 숫자로 입력해 주세요. 예: 19900131 또는 900131",
    error_phone: "휴대폰 번호를 010-1234-5678 형식으로 입력해 주세요.",
    error_consent: "정보 전달에 동의해야 인증을 진행할 수 있습니다.",

    waiting_title: |provider| format!("{provider} 앱에서 인증을 승인해 주세요"),
    waiting_step_open: |provider| format!("휴대폰에서 {provider} 알림을 누르거나 앱을 여세요."),
    waiting_step_approve: "요청 내용을 확인하고 인증을 승인하세요.",
    waiting_step_auto: "승인하면 이 화면이 자동으로 다음 단계로 넘어갑니다.",
    status_pending: "승인을 기다리고 있습니다.",
    status_viewed: "앱에서 요청을 열었습니다. 앱에서 승인을 마쳐 주세요.",
    status_done: "승인되었습니다. 다음 단계로 이동합니다.",
    status_ended: "인증 요청이 끝났습니다. 결과 화면으로 이동합니다.",
    status_retrying: "연결이 원활하지 않아 다시 확인하고 있습니다.",
    status_expired: "인증 시간이 지났습니다.",
    status_one_minute: "1분 남았습니다.",
    time_left: "남은 시간",
    continue_link: "앱에서 승인했어요. 계속하기",
    continue_hint: "화면이 자동으로 넘어가지 않으면 눌러 주세요.",
    cancel_login: "인증 취소",
    no_push_summary: "알림이 오지 않나요?",
    wallet_qr_title: "휴대폰으로 QR 코드 촬영",
    wallet_qr_hint: |provider| format!("{provider} 앱의 QR 촬영으로 이 코드를 찍으세요. 앱에서 제출하면 이 화면이 저절로 넘어갑니다."),
    wallet_qr_alt: |provider| format!("{provider} 앱으로 촬영할 QR 코드"),
    wallet_open_here: "이 휴대폰의 지갑 앱 열기",
    no_push_body: "인증서 앱을 직접 열어 인증 요청 목록을 확인하세요. \
                   입력한 휴대폰 번호가 맞는지, 앱 알림이 켜져 있는지도 확인해 주세요.",
    down_title: |p| format!("{p} 인증서 서비스가 지금 응답하지 않습니다"),
    down_body: "알림이 오지 않을 수 있습니다. 이미 앱에서 승인하셨다면 잠시 기다려 주세요. \
                다른 인증서로 바로 로그인할 수도 있습니다.",
    down_other: "다른 인증서로 로그인",

    code_label: "오류 코드",
    txn_label: "거래 번호",
    detail_label: "사이트 개발자용 정보",
    quote_hint: "사이트에 문의하실 때 이 번호를 알려 주세요.",
    retry: "다시 시도",
    back_to_site: "사이트로 돌아가기",
    rejected: ProblemText {
        title: "인증을 취소했습니다",
        what: "인증서 앱에서 요청이 거절되어 로그인하지 않았습니다.",
        next: "로그인하려면 다시 시도하거나 다른 인증서를 선택하세요.",
    },
    expired: ProblemText {
        title: "인증 시간이 지났습니다",
        what: "정해진 시간 안에 인증서 앱에서 승인하지 않아 요청이 만료되었습니다.",
        next: "다시 시도하면 새 요청을 보내 드립니다. 앱 알림이 오면 바로 승인해 주세요.",
    },
    provider_unavailable: ProblemText {
        title: "인증서 서비스에 연결할 수 없습니다",
        what: "선택한 인증서 기관이 지금 응답하지 않습니다.",
        next: "다른 인증서를 선택하거나 잠시 후 다시 시도하세요.",
    },
    verification_failed: ProblemText {
        title: "인증 결과를 확인하지 못했습니다",
        what: "인증서 기관이 보낸 결과가 올바르지 않아 안전을 위해 로그인을 중단했습니다.",
        next: "다시 시도하거나 다른 인증서를 선택하세요. 계속 실패하면 사이트에 문의하세요.",
    },
    wrong_person: ProblemText {
        title: "입력한 정보와 인증한 사람이 다릅니다",
        what: "인증서 앱에서 승인한 사람의 정보가 입력한 이름, 생년월일, 휴대폰 번호와 일치하지 않습니다.",
        next: "본인의 정보를 인증서에 등록된 그대로 입력해 다시 시도하세요.",
    },
    signer_changed: ProblemText {
        title: "이전과 다른 인증서로 승인했습니다",
        what: "승인에 쓰인 인증서가 이 인증서 기관에서 지난번에 쓰신 인증서와 다릅니다. 본인 보호를 위해 로그인을 멈췄습니다.",
        next: "인증서를 새로 발급받거나 갱신하셨다면, 이용하려던 사이트의 고객센터에 아래 참조 번호를 알려 확인을 요청하세요. 확인 뒤에 다시 시도하면 됩니다. 다른 인증서를 선택할 수도 있습니다.",
    },
    person_unknown: ProblemText {
        title: "인증서를 찾을 수 없습니다",
        what: "입력한 정보로 발급된 인증서가 이 기관에 없습니다.",
        next: "입력한 정보가 맞는지 확인하거나, 사용하시는 다른 인증서를 선택하세요.",
    },
    session_expired: ProblemText {
        title: "로그인 시간이 지났습니다",
        what: "로그인을 시작한 지 오래되었거나 다른 창에서 이미 마쳐 이 로그인은 더 진행할 수 없습니다.",
        next: "사이트로 돌아가 로그인을 처음부터 다시 시작하세요.",
    },
    bad_request: ProblemText {
        title: "잘못된 로그인 요청입니다",
        what: "사이트에서 보낸 로그인 요청에 필요한 정보가 없거나 올바르지 않습니다.",
        next: "사이트로 돌아가 다시 시도하세요. 계속되면 사이트에 문의하세요.",
    },
    unknown_client: ProblemText {
        title: "등록되지 않은 사이트입니다",
        what: "로그인을 요청한 사이트가 문지기에 등록되어 있지 않습니다.",
        next: "주소를 직접 입력하지 말고 이용하려는 사이트의 로그인 버튼으로 다시 시작하세요.",
    },
    invalid_redirect: ProblemText {
        title: "돌아갈 주소가 올바르지 않습니다",
        what: "로그인 후 돌아갈 주소가 사이트에 등록된 주소와 달라 안전을 위해 중단했습니다.",
        next: "이용하려는 사이트에서 로그인을 다시 시작하세요. 계속되면 사이트에 문의하세요.",
    },
    code_before: "앱의 요청에 확인번호",
    code_after: "가 보일 때만 승인하세요. 직접 시작하지 않은 요청은 거절하세요.",
    too_many_pushes: ProblemText {
        title: "이 휴대폰으로 인증 요청이 너무 많습니다",
        what: "최근 이 휴대폰 번호로 인증 요청이 여러 번 보내져, 휴대폰 주인을 보호하기 위해 잠시 요청을 보내지 않습니다.",
        next: "직접 시작하지 않은 요청이 앱에 왔다면 승인하지 말고 거절하세요. 누군가 이 번호로 로그인을 시도하고 있을 수 있습니다.",
    },
    provider_busy: ProblemText {
        title: "인증서 제공자가 지금 요청을 더 받지 못합니다",
        what: "선택한 인증서 제공자로 지금 요청이 몰려 잠시 보낼 수 없습니다.",
        next: "잠시 뒤 다시 시도하거나 다른 인증서를 선택하세요.",
    },
    too_many_device_codes: ProblemText {
        title: "코드를 너무 많이 입력했습니다",
        what: "이 네트워크에서 짧은 시간에 기기 코드가 많이 입력되어 잠시 제한되었습니다.",
        next: "잠시 기다린 뒤 기기 화면에 보이는 코드를 다시 입력하세요.",
    },
    too_many_requests: ProblemText {
        title: "요청이 너무 많습니다",
        what: "이 네트워크에서 짧은 시간에 로그인 요청이 많아 잠시 제한되었습니다.",
        next: "잠시 기다린 뒤 이용하려는 사이트에서 로그인을 다시 시작하세요.",
    },
    too_many_attempts: ProblemText {
        title: "시도 횟수가 너무 많습니다",
        what: "짧은 시간에 인증 요청이 많아 잠시 제한되었습니다.",
        next: "몇 분 뒤에 다시 시도하세요.",
    },
    try_later: ProblemText {
        title: "잠시 후 다시 시도해 주세요",
        what: "문지기가 잠시 요청을 처리할 수 없습니다. 진행 중이던 로그인은 그대로 남아 있습니다.",
        next: "잠시 기다린 뒤 이 페이지를 새로 고치거나 다시 시도하세요.",
    },
    changed_elsewhere: ProblemText {
        title: "다른 창에서 로그인이 진행되었습니다",
        what: "같은 로그인이 다른 탭이나 창에서 먼저 진행되어 이 요청은 처리하지 않았습니다. 입력하신 내용은 그대로 남아 있습니다.",
        next: "아래 ‘다시 시도’를 누르면 로그인의 현재 단계로 돌아갑니다.",
    },
    internal: ProblemText {
        title: "일시적인 오류가 발생했습니다",
        what: "문지기에서 요청을 처리하지 못했습니다. 입력하신 정보는 다른 곳에 전달되지 않았습니다.",
        next: "잠시 후 다시 시도하세요. 계속되면 아래 번호와 함께 사이트에 문의하세요.",
    },

    logged_out_title: "로그아웃되었습니다",
    logged_out_body: "문지기 로그인이 끝났습니다. 공용 컴퓨터를 쓰셨다면 브라우저 창을 모두 닫아 주세요.",
    logout_unconfirmed_title: "로그아웃을 확인하지 못한 사이트",
    logout_unconfirmed_body: "아래 사이트는 로그아웃되었다고 알려 오지 않았습니다. 그 사이트에 아직 로그인되어 있을 수 있으니, 사이트에서 직접 로그아웃하거나 브라우저를 모두 닫아 주세요.",
    logout_frame_title: "사이트 로그아웃 알림",

    device_title: "기기에서 로그인",
    device_lead: "키오스크나 TV 같은 기기 화면에 보이는 코드를 입력하세요.",
    device_code_label: "기기 코드",
    device_code_hint: "영문 8글자 (예: BCDF-GHJK). 대소문자와 빼기표(-)는 상관없습니다.",
    device_code_wrong: "없는 코드이거나 만료된 코드입니다. 기기 화면의 코드를 확인하세요.",
    device_continue: "다음",
    device_confirm_title: |site| format!("기기에서 {site}에 로그인할까요?"),
    device_confirm_body: "지금 눈앞의 기기(키오스크, TV, 스피커 등)에 이 코드가 보일 때만 계속하세요. 누군가 문자·메신저·전화로 이 코드나 링크를 보내 왔다면 절대 계속하지 말고 취소하세요. 계속하면 그 기기가 내 이름으로 로그인되고, 인증서 앱에서 한 번 더 승인해야 합니다.",
    device_confirm_code: "기기에 보이는 코드",
    device_confirm_button: "로그인 계속",
    device_cancel_button: "취소",
    device_done_title: "기기로 돌아가세요",
    device_done_body: "기기에서 로그인이 이어집니다. 이 페이지는 닫아도 됩니다.",
    device_declined_title: "기기 로그인을 취소했습니다",
    device_declined_body: "기기는 로그인되지 않습니다. 이 페이지는 닫아도 됩니다.",
    device_late_title: "기기 코드가 만료되었습니다",
    device_late_body: "기기는 로그인되지 않았습니다. 기기에서 로그인을 다시 시작하세요.",
    logout_confirm_title: "문지기에서 로그아웃할까요?",
    logout_confirm_body: "로그아웃하면 문지기로 들어간 모든 사이트에서 로그인이 끝납니다. 로그아웃하려던 것이 아니라면 이 페이지를 닫으세요. 로그인은 그대로 유지됩니다.",
    logout_confirm_retry: "로그아웃 요청을 확인하지 못했습니다. 로그아웃하려면 아래 버튼을 다시 누르세요.",
    logout_confirm_button: "로그아웃",
    logout_stay: "로그인을 유지하고 사이트로 돌아가기",

    returning_title: "사이트로 돌아가는 중입니다",
    returning_body: "자동으로 넘어가지 않으면 아래 계속 버튼을 누르세요.",
    continue_button: "계속",

    demo_brand: "예시 민원포털",
    demo_tag: "데모",
    demo_banner: "문지기 연동을 보여 주는 예시 공공 서비스입니다. 인증서 앱 대신 시뮬레이터가 승인하므로 실제 개인정보를 입력하지 마세요.",
    demo_home_title: "예시 민원포털에 오신 것을 환영합니다",
    demo_home_lead: "민원을 신청하고 처리 현황을 보려면 로그인하세요.",
    demo_services: ["주민등록등본 발급", "전입신고", "민원 처리 현황 조회"],
    demo_login: "인증서로 로그인 (간편인증)",
    demo_login_hint: "카카오, 네이버, PASS, 토스 등 사용하시는 인증서를 고를 수 있습니다.",
    demo_result_title: "로그인되었습니다",
    demo_result_lead: "이 사이트가 OpenID Connect로 문지기에서 받은 정보입니다.",
    demo_id_token: "ID 토큰 클레임",
    demo_userinfo: "UserInfo 응답",
    demo_raw_token: "ID 토큰 원문 (JWT)",
    demo_claim: "클레임",
    demo_value: "값",
    demo_none: "없음",
    demo_logout: "로그아웃",
    demo_home: "처음으로",
    demo_sign_link: "문서에 전자서명하기",
    demo_sign_link_hint: "신청서나 동의서에 사용하시는 인증서로 서명하고, 검증할 수 있는 영수증을 받습니다.",
    demo_sign_title: "문서에 전자서명하기",
    demo_sign_lead: "서명할 내용을 입력하거나 파일을 고르세요. 문지기가 인증서 앱으로 서명을 요청하고, 이 사이트는 서명 영수증을 받습니다.",
    demo_sign_doc_title: "문서 제목",
    demo_sign_doc_title_hint: "인증서 앱과 확인 화면에 보입니다. 예: 전입신고서",
    demo_sign_text: "서명할 내용",
    demo_sign_text_hint: "이 글 그대로에 서명합니다.",
    demo_sign_file: "또는 파일 (선택)",
    demo_sign_file_hint: "파일을 고르면 파일에 서명합니다. 글도 입력하면 글과 파일, 두 문서를 한 번에 서명합니다. 256 KB까지, 자바스크립트가 필요합니다.",
    demo_sign_submit: "서명 요청",
    demo_sign_empty: "서명할 내용을 입력하거나 파일을 고르세요",
    demo_sign_too_large: "파일이 너무 큽니다. 256 KB까지 서명할 수 있습니다",
    demo_signed_title: "서명되었습니다",
    demo_signed_lead: "이 사이트가 문지기에서 받은 서명 영수증입니다. 영수증의 서명은 문지기의 공개키(/jwks)로 확인했습니다.",
    demo_signed_failed_title: "서명되지 않았습니다",
    demo_signed_failed_lead: "서명 요청이 완료되지 않았습니다. 영수증은 발급되지 않았습니다.",
    demo_signed_pending_title: "아직 서명이 끝나지 않았습니다",
    demo_signed_reason: "사유",
    demo_signed_request: "요청 제목",
    demo_signed_document: "문서",
    demo_signed_digest: "SHA-256 지문",
    demo_signed_provider: "인증서",
    demo_signed_signer: "서명한 사람",
    demo_signed_time: "서명 시각",
    demo_signed_download: "영수증 내려받기 (JWS)",
    demo_signed_download_hint: "munjigi verify-receipt 파일 로 언제든 다시 검증할 수 있습니다.",
    demo_sign_again: "다른 문서 서명하기",
    demo_away_heading: "창구 밖에서 하는 본인 확인",
    demo_away_hint: "전화 상담(콜센터)과 키보드 없는 키오스크에서도 같은 인증서로 본인을 확인합니다.",
    demo_cc_link: "콜센터 상담원 화면",
    demo_kiosk_link: "민원 키오스크 화면",
    demo_cc_title: "콜센터: 통화 중인 고객 본인 확인",
    demo_cc_lead: "고객의 정보를 입력하면 고객이 쓰는 인증서 앱으로 확인 요청이 갑니다. 고객이 앱에서 승인하면 이 화면에 확인 결과가 나옵니다.",
    demo_cc_birthdate_hint: "예: 1990-01-31",
    demo_cc_provider: "고객의 인증서",
    demo_cc_submit: "확인 요청 보내기",
    demo_cc_unsigned_note: "이 데모는 서명하지 않은 login_hint를 보냅니다. 실제 콜센터는 등록한 키로 서명한 login_hint_token을 보냅니다.",
    demo_cc_error: "요청을 보낼 수 없습니다",
    demo_cc_wait_title: "고객의 승인을 기다립니다",
    demo_cc_read_code: "고객님께 불러 줄 확인번호:",
    demo_cc_script: "앱 알림에 같은 번호가 보이면 승인하고, 번호가 다르거나 없으면 거절하도록 안내하세요. 인증서 비밀번호나 앱 화면의 내용은 절대 묻지 마세요.",
    demo_cc_no_code: "이 인증서 앱은 확인번호를 보여 주지 않습니다. 방금 요청이 갔으니 앱에서 승인해 달라고 안내하세요.",
    demo_kiosk_title: "휴대폰으로 로그인하세요",
    demo_kiosk_lead: "휴대폰 카메라로 QR 코드를 찍거나, 아래 주소에 접속해 코드를 입력하세요. 휴대폰에서 로그인을 마치면 이 화면이 바뀝니다.",
    demo_kiosk_code_label: "입력할 코드:",
    demo_kiosk_qr_alt: "로그인 주소와 코드가 담긴 QR 코드",
    demo_kiosk_address: "주소:",
    demo_kiosk_welcome: |n| format!("환영합니다, {n}님"),
    demo_away_waiting: "승인을 기다리는 중입니다. 이 화면은 저절로 바뀝니다.",
    demo_away_check: "지금 확인",
    demo_away_done_title: "본인 확인 완료",
    demo_away_failed_title: "확인되지 않았습니다",
    demo_away_failed_lead: "요청이 거절되었거나 시간이 지났습니다. 새로 요청할 수 있습니다.",
    demo_away_again: "새로 시작",
};

const EN: Text = Text {
    brand: "Munjigi",
    brand_sub: "Certificate login for public services",
    skip_link: "Skip to main content",
    lang_nav_label: "Language",
    footer: "Munjigi connects public websites to the certificate you already use. \
             It never asks for your password or certificate PIN: you approve in your certificate app only.",
    error_prefix: "Error: ",

    chooser_title: |site| format!("Log in to {site}"),
    chooser_lead: "Choose the certificate you use. We will send an identity check to that provider's app on your phone.",
    chooser_list_label: "Certificate providers",
    chooser_none: "No certificate provider is available for this site right now. Try again later or go back to the site.",
    chooser_help_summary: "What is certificate login (간편인증)?",
    chooser_off_heading: "Not available right now",
    chooser_last_heading: "Used last on this device",
    chooser_continue_with: |provider| format!("Continue with {provider}"),
    chooser_others_heading: "Other providers",
    chooser_forget: |provider| format!("Forget {provider} on this device"),
    chooser_filter_label: "Find a provider by name",
    chooser_filter_count: "Providers shown: {n}",
    provider_failing: "Not answering at the moment. Please choose another provider.",
    provider_disabled: "Under maintenance. Please choose another provider.",
    chooser_help_body: "You prove who you are with a private certificate kept in an app on your phone, \
                        such as Kakao, Naver, PASS or Toss. If you do not have one, get it in that app first.",
    cancel_to_site: "Cancel and go back to the site",

    logging_in_to: |site| format!("Log in to {site}"),
    identify_title: |provider| format!("Log in with {provider}"),
    signing_for: |site| format!("Signing for {site}"),
    sign_title: |provider| format!("Sign with {provider}"),
    review_title: "Documents to sign",
    review_lead: "You are signing the documents below with your own certificate. Each document's fingerprint (SHA-256) is what is signed.",
    identify_lead: "Enter your details exactly as they are registered with your certificate. \
                    We will send a request to the certificate app on this phone number.",
    name_label: "Full name",
    name_hint: "Your legal name as registered with the certificate",
    birthdate_label: "Date of birth",
    birthdate_hint: "Year, month, day: 19900131, or 900131. Six digits are read as the 2000s, unless that date is after today, then the 1900s (150101 is 2015, 900131 is 1990).",
    phone_label: "Mobile phone number",
    phone_hint: "For example, 010-1234-5678",
    consent_label: |provider| {
        format!("I agree that my name, date of birth and phone number are passed to {provider} to verify my identity.")
    },
    consent_hint: "We cannot send the request without your agreement. The details are used only to verify who you are.",
    submit: "Send request to my app",
    other_provider: "Choose another provider",
    error_summary_title: "There is a problem",
    error_name: "Enter your name, up to 50 characters.",
    error_birthdate: "Enter your date of birth as 8 or 6 digits, for example 19900131 or 900131.",
    error_phone: "Enter a Korean mobile number, for example 010-1234-5678.",
    error_consent: "Tick the box to agree, so we can ask the provider to verify you.",

    waiting_title: |provider| format!("Approve the request in the {provider} app"),
    waiting_step_open: |provider| format!("On your phone, tap the {provider} notification or open the app."),
    waiting_step_approve: "Check the request and approve it.",
    waiting_step_auto: "Once you approve, this page moves on by itself.",
    status_pending: "Waiting for your approval.",
    status_viewed: "Opened in the app. Finish approving it there.",
    status_done: "Approved. Taking you to the next step.",
    status_ended: "The request has ended. Taking you to the result.",
    status_retrying: "Connection problem. Checking again.",
    status_expired: "Time is up.",
    status_one_minute: "1 minute left.",
    time_left: "Time left",
    continue_link: "I have approved it. Continue",
    continue_hint: "Use this if the page does not move on by itself.",
    cancel_login: "Cancel login",
    no_push_summary: "No notification?",
    wallet_qr_title: "Scan the QR code with your phone",
    wallet_qr_hint: |provider| format!("Scan this code with the QR scanner of your {provider} app. Once you present in the app, this page moves on by itself."),
    wallet_qr_alt: |provider| format!("QR code to scan with your {provider} app"),
    wallet_open_here: "Open the wallet app on this phone",
    no_push_body: "Open the certificate app yourself and look at its list of requests. \
                   Check that the phone number is right and that the app's notifications are on.",
    down_title: |p| format!("{p} is not answering right now"),
    down_body: "The request may never reach your phone. If you already approved it in the app, \
                wait a moment. You can also log in with another provider now.",
    down_other: "Log in with another provider",

    code_label: "Error code",
    txn_label: "Reference",
    detail_label: "For developers of the site",
    quote_hint: "Quote these when you contact the site.",
    retry: "Try again",
    back_to_site: "Go back to the site",
    rejected: ProblemText {
        title: "You cancelled the request",
        what: "The request was declined in the certificate app, so you have not been logged in.",
        next: "To log in, try again or choose another provider.",
    },
    expired: ProblemText {
        title: "The request timed out",
        what: "The request was not approved in the certificate app in time, so it expired.",
        next: "Try again to get a new request, and approve it as soon as the notification arrives.",
    },
    provider_unavailable: ProblemText {
        title: "The certificate provider cannot be reached",
        what: "The provider you chose is not answering right now.",
        next: "Choose another provider, or try again in a few minutes.",
    },
    verification_failed: ProblemText {
        title: "We could not check the result",
        what: "The result sent by the certificate provider was not valid, so we stopped the login to keep you safe.",
        next: "Try again or choose another provider. If it keeps failing, contact the site.",
    },
    wrong_person: ProblemText {
        title: "The details do not match",
        what: "The person who approved in the app does not match the name, date of birth and phone number entered.",
        next: "Enter your own details exactly as registered with your certificate, and try again.",
    },
    signer_changed: ProblemText {
        title: "You approved with a different certificate",
        what: "The certificate used to approve is not the one you used with this provider last time. To protect you, the login was stopped.",
        next: "If you renewed or re-issued your certificate, contact the help desk of the site you were logging in to, quote the reference below and ask them to confirm it; then try again. You can also choose another provider.",
    },
    person_unknown: ProblemText {
        title: "No certificate was found",
        what: "This provider has no certificate issued for the details you entered.",
        next: "Check your details, or choose another provider you have a certificate with.",
    },
    session_expired: ProblemText {
        title: "This login has expired",
        what: "The login was started too long ago, or was already finished in another window, so it cannot continue.",
        next: "Go back to the site and start logging in again.",
    },
    bad_request: ProblemText {
        title: "The login request is not valid",
        what: "The site's login request is missing information or has an error.",
        next: "Go back to the site and try again. If it keeps happening, contact the site.",
    },
    unknown_client: ProblemText {
        title: "This site is not registered",
        what: "The site that asked you to log in is not registered with Munjigi.",
        next: "Start again from the log in button of the site you want to use, rather than a saved or typed address.",
    },
    invalid_redirect: ProblemText {
        title: "The return address is not valid",
        what: "The address to return to after login is not one the site registered, so we stopped to keep you safe.",
        next: "Start logging in again from the site you want to use. If it keeps happening, contact the site.",
    },
    code_before: "Approve only if the request in your app shows the number",
    code_after: ". Reject any request you did not start yourself.",
    too_many_pushes: ProblemText {
        title: "Too many requests to this phone",
        what: "Several sign-in requests were sent to this phone number recently, so to protect its owner no more are sent for a while.",
        next: "If a request you did not start appears in your app, do not approve it: reject it. Someone may be trying to sign in with this number.",
    },
    provider_busy: ProblemText {
        title: "The certificate provider is busy",
        what: "The provider you chose cannot take more requests right now.",
        next: "Try again in a moment, or choose another certificate.",
    },
    too_many_device_codes: ProblemText {
        title: "Too many codes typed",
        what: "Many device codes were typed from this network in a short time, so code entry is paused for a while.",
        next: "Wait a little, then type the code shown on your device again.",
    },
    too_many_requests: ProblemText {
        title: "Too many requests",
        what: "Too many sign-ins were started from this network in a short time, so they are paused for a while.",
        next: "Wait a little, then start the sign-in again from the site you were using.",
    },
    too_many_attempts: ProblemText {
        title: "Too many attempts",
        what: "There were too many requests in a short time, so requests are paused for a while.",
        next: "Wait a few minutes, then try again.",
    },
    try_later: ProblemText {
        title: "Please try again in a moment",
        what: "Munjigi cannot handle requests for a moment. Your login in progress is kept.",
        next: "Wait a little, then reload this page or try again.",
    },
    changed_elsewhere: ProblemText {
        title: "This login moved on in another window",
        what: "The same login was changed in another tab or window first, so this request was not applied. Nothing was lost.",
        next: "“Try again” below takes you to the login's current step.",
    },
    internal: ProblemText {
        title: "Something went wrong",
        what: "Munjigi could not handle the request. Your details were not passed anywhere else.",
        next: "Try again in a few minutes. If it keeps happening, contact the site and quote the reference below.",
    },

    logged_out_title: "You have logged out",
    logged_out_body: "Your Munjigi login has ended. If you used a shared computer, close all browser windows.",
    logout_unconfirmed_title: "Sites that did not confirm the logout",
    logout_unconfirmed_body: "These sites did not confirm that you are logged out. You may still be logged in there: log out at the site itself, or close all browser windows.",
    logout_frame_title: "Logout notice to a site",

    device_title: "Log in on a device",
    device_lead: "Type the code shown on the screen of the kiosk, TV or other device.",
    device_code_label: "Device code",
    device_code_hint: "8 letters (e.g. BCDF-GHJK). Upper or lower case, with or without the dash.",
    device_code_wrong: "This code does not exist or has expired. Check the code on the device's screen.",
    device_continue: "Continue",
    device_confirm_title: |site| format!("Log in to {site} on your device?"),
    device_confirm_body: "Only continue if this code is shown on a device in front of you (a kiosk, TV or speaker). If someone sent you this code or link by text, messenger or phone, never continue: cancel. If you go on, the device will be logged in as you, after you approve in your certificate app.",
    device_confirm_code: "Code on the device",
    device_confirm_button: "Continue to log in",
    device_cancel_button: "Cancel",
    device_done_title: "You can return to your device",
    device_done_body: "The login goes on on the device. You can close this page.",
    device_declined_title: "Device login cancelled",
    device_declined_body: "The device is not logged in. You can close this page.",
    device_late_title: "The device code has expired",
    device_late_body: "The device was not logged in. Start the login again on the device.",
    logout_confirm_title: "Log out of Munjigi?",
    logout_confirm_body: "Logging out ends your login on every site you entered through Munjigi. If you did not mean to log out, close this page: you stay logged in.",
    logout_confirm_retry: "Your logout could not be confirmed. To log out, press the button below again.",
    logout_confirm_button: "Log out",
    logout_stay: "Stay logged in and go back to the site",

    returning_title: "Returning to the site",
    returning_body: "If nothing happens, press Continue below.",
    continue_button: "Continue",

    demo_brand: "Sample Public Service",
    demo_tag: "Demo",
    demo_banner: "A sample public service that shows the Munjigi integration. \
                  A simulator approves instead of a real certificate app: do not enter real personal data.",
    demo_home_title: "Welcome to the sample public service",
    demo_home_lead: "Log in to apply for certificates and to follow your applications.",
    demo_services: [
        "Resident registration certificate",
        "Report a change of address",
        "Track your applications",
    ],
    demo_login: "Log in with a certificate (간편인증)",
    demo_login_hint: "You can use Kakao, Naver, PASS, Toss or another certificate you have.",
    demo_result_title: "You are logged in",
    demo_result_lead: "This is what this site received from Munjigi over OpenID Connect.",
    demo_id_token: "ID token claims",
    demo_userinfo: "UserInfo response",
    demo_raw_token: "Raw ID token (JWT)",
    demo_claim: "Claim",
    demo_value: "Value",
    demo_none: "None",
    demo_logout: "Log out",
    demo_home: "Home",
    demo_sign_link: "Sign a document",
    demo_sign_link_hint: "Sign an application or a consent with your certificate and get a receipt anyone can verify.",
    demo_sign_title: "Sign a document",
    demo_sign_lead: "Type what to sign or choose a file. Munjigi asks your certificate app for the signature and this site receives a signed receipt.",
    demo_sign_doc_title: "Document title",
    demo_sign_doc_title_hint: "Shown in the certificate app and on the review page, e.g. Change of address",
    demo_sign_text: "Text to sign",
    demo_sign_text_hint: "Exactly this text is signed.",
    demo_sign_file: "Or a file (optional)",
    demo_sign_file_hint: "A chosen file is signed. With a text typed as well, both are signed together, as two documents. Up to 256 KB; needs JavaScript.",
    demo_sign_submit: "Ask for the signature",
    demo_sign_empty: "Type the text to sign or choose a file",
    demo_sign_too_large: "The file is too large: up to 256 KB can be signed",
    demo_signed_title: "Signed",
    demo_signed_lead: "This is the signing receipt this site received from Munjigi. Its signature was checked against Munjigi's public keys (/jwks).",
    demo_signed_failed_title: "Not signed",
    demo_signed_failed_lead: "The signature request did not complete. No receipt was issued.",
    demo_signed_pending_title: "The signature is not finished yet",
    demo_signed_reason: "Reason",
    demo_signed_request: "Request",
    demo_signed_document: "Document",
    demo_signed_digest: "SHA-256 fingerprint",
    demo_signed_provider: "Certificate",
    demo_signed_signer: "Signed by",
    demo_signed_time: "Signing time",
    demo_signed_download: "Download the receipt (JWS)",
    demo_signed_download_hint: "munjigi verify-receipt FILE verifies it again at any time.",
    demo_sign_again: "Sign another document",
    demo_away_heading: "Confirming who someone is away from a browser",
    demo_away_hint: "A call centre and a kiosk without a keyboard confirm who a citizen is with the same certificates.",
    demo_cc_link: "Call-centre operator screen",
    demo_kiosk_link: "Community-centre kiosk screen",
    demo_cc_title: "Call centre: confirm who the caller is",
    demo_cc_lead: "Type the caller's details: a request goes to the certificate app they use. When they approve it there, this screen shows who they are.",
    demo_cc_birthdate_hint: "For example 1990-01-31",
    demo_cc_provider: "The caller's certificate",
    demo_cc_submit: "Send the request",
    demo_cc_unsigned_note: "This demo sends an unsigned login_hint; a real call centre sends a login_hint_token signed with its registered key.",
    demo_cc_error: "The request could not be sent",
    demo_cc_wait_title: "Waiting for the caller to approve",
    demo_cc_read_code: "Read this code to the caller:",
    demo_cc_script: "Ask the caller to approve only if their app shows the same code, and to reject it otherwise. Never ask for a PIN, a password or what their screen shows.",
    demo_cc_no_code: "This certificate app shows no code of ours. Tell the caller a request was just sent and ask them to approve it in the app.",
    demo_kiosk_title: "Log in with your phone",
    demo_kiosk_lead: "Scan the QR code with your phone's camera, or open the address below and type the code. When you finish logging in on your phone, this screen moves on.",
    demo_kiosk_code_label: "Code to type:",
    demo_kiosk_qr_alt: "QR code of the login address with the code",
    demo_kiosk_address: "Address:",
    demo_kiosk_welcome: |n| format!("Welcome, {n}"),
    demo_away_waiting: "Waiting for approval. This screen moves on by itself.",
    demo_away_check: "Check now",
    demo_away_done_title: "Identity confirmed",
    demo_away_failed_title: "Not confirmed",
    demo_away_failed_lead: "The request was rejected or ran out of time. You can start a new one.",
    demo_away_again: "Start again",
};

/// "You can try again in about N minutes", in the page's language.
pub fn try_again_in(lang: super::Lang, wait: std::time::Duration) -> String {
    let secs = u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1);
    let (n, ko_unit, en_unit) = if secs < 60 {
        (secs, "초", "second")
    } else if secs < 90 * 60 {
        (secs.div_ceil(60), "분", "minute")
    } else {
        (secs.div_ceil(3600), "시간", "hour")
    };
    match lang {
        super::Lang::Ko => format!("약 {n}{ko_unit} 뒤에 다시 시도할 수 있습니다."),
        super::Lang::En => {
            let s = if n == 1 { "" } else { "s" };
            format!("You can try again in about {n} {en_unit}{s}.")
        }
    }
}

/// The particle after a name, `으로` or `로`: `로` after a vowel or ㄹ (카카오로,
/// 네이버로, 서울로), `으로` after any other final consonant (디지털 지갑으로);
/// `로` after a name not ending in Hangul (PASS로, as it is read).
fn euro(name: &str) -> &'static str {
    let Some(last) = name.trim_end().chars().last() else {
        return "로";
    };
    let code = u32::from(last);
    if !(0xAC00..=0xD7A3).contains(&code) {
        return "로";
    }
    match (code - 0xAC00) % 28 {
        0 | 8 => "로",
        _ => "으로",
    }
}

#[cfg(test)]
mod particle_tests {
    use super::euro;

    #[test]
    fn the_particle_follows_the_last_syllable() {
        for (name, p) in [
            ("카카오", "로"),
            ("네이버", "로"),
            ("KB국민인증서", "로"),
            ("서울", "로"),
            ("디지털 지갑", "으로"),
            ("모바일 신분증", "으로"),
            ("PASS", "로"),
            ("", "로"),
        ] {
            assert_eq!(euro(name), p, "{name}");
        }
    }
}
