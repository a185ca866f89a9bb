"""The homeowner pages' words, Portuguese first, English second, in ``guarita.web.i18n``'s catalogue.

Each key starts ``home.``; the page's language is ``guarita.web.i18n.negotiate``'s, as the
console's. Plain words: the reader is a homeowner, not a technician.

Covers: PB-07, BH-03, BH-04, BH-07.
"""

from __future__ import annotations

from guarita.web.i18n import CATALOGUE

__all__ = ["HOMEOWNER_MESSAGES", "add_homeowner_messages"]

HOMEOWNER_MESSAGES: dict[str, tuple[str, str]] = {
    "home.site": (
        'Compartilhamento de câmeras · BH + Segura',
        'Camera sharing · BH + Segura',
    ),
    "home.invite_title": (
        'Convite para compartilhar suas câmeras com o COP-BH',
        'Invitation to share your cameras with COP-BH',
    ),
    "home.provider_heading": (
        'Quem está convidando',
        'Who is inviting you',
    ),
    "home.accredited": (
        '{name} é credenciada no programa BH + Segura ({reference}, desde {date}).',
        '{name} is accredited in the BH + Segura program ({reference}, since {date}).',
    ),
    "home.not_accredited": (
        '{name} ainda não é credenciada no programa BH + Segura: nada será compartilhado até que seja.',
        '{name} is not yet accredited in the BH + Segura program: nothing is shared until it is.',
    ),
    "home.cameras_heading": (
        'Suas câmeras neste convite',
        'Your cameras in this invitation',
    ),
    "home.snapshot_alt": (
        'Imagem atual da câmera {camera}, com as áreas privadas cobertas de preto',
        'Current picture of camera {camera}, with private areas blacked out',
    ),
    "home.snapshot_note": (
        'As áreas em preto são privadas e nunca saem daqui.',
        'The black areas are private and never leave here.',
    ),
    "home.seen_by": (
        'Quem pode ver: o COP-BH e {agencies}.',
        'Who can see it: COP-BH and {agencies}.',
    ),
    "home.seen_by_cop": (
        'Quem pode ver: o COP-BH.',
        'Who can see it: COP-BH.',
    ),
    "home.meaning_heading": (
        'O que significa compartilhar',
        'What sharing means',
    ),
    "home.meaning_street": (
        'Só a rua: a calçada, a via e a praça que a câmera vê. O interior da sua casa nunca é compartilhado.',
        'The street only: the pavement, road and square the camera sees. The inside of your home is never shared.',
    ),
    "home.meaning_who": (
        'Quem vê: o Centro Integrado de Operações de Belo Horizonte (COP-BH) e os órgãos cuja área cobre o local da câmera.',
        "Who sees it: Belo Horizonte's operations centre (COP-BH) and the agencies whose area covers the camera's place.",
    ),
    "home.meaning_cloud": (
        'Por quanto tempo: as gravações ficam 7 dias em nuvem e depois são apagadas.',
        'For how long: recordings are kept 7 days in the cloud, then deleted.',
    ),
    "home.meaning_release": (
        'Entrega de imagens: só com as requisições legais que o programa prevê (ordem judicial ou de autoridade competente), sempre registradas.',
        "Handing images over: only on the legal requests the program lists (a court order or a competent authority's request), always recorded.",
    ),
    "home.meaning_withdraw": (
        'Você pode retirar a autorização quando quiser, com um clique.',
        'You can withdraw your consent at any time, with one click.',
    ),
    "home.term_heading": (
        'Termo de adesão',
        'Consent term',
    ),
    "home.term_version": (
        'Versão {version} · impressão digital (SHA-256) {sha256}',
        'Version {version} · fingerprint (SHA-256) {sha256}',
    ),
    "home.term_binding": (
        '',
        'The binding text of the term is in Portuguese.',
    ),
    "home.form_heading": (
        'Sua autorização',
        'Your consent',
    ),
    "home.name_label": (
        'Seu nome completo',
        'Your full name',
    ),
    "home.document_label": (
        'CPF ou CNPJ',
        'CPF or CNPJ',
    ),
    "home.document_hint": (
        'Só números ou com pontos e traço. Guardamos apenas uma forma cifrada dele.',
        'Digits only, or with dots and dash. We keep only an encrypted form of it.',
    ),
    "home.agree_label": (
        'Li o termo acima e autorizo o compartilhamento das câmeras listadas.',
        'I have read the term above and I consent to sharing the cameras listed.',
    ),
    "home.submit": (
        'Autorizar o compartilhamento',
        'Consent to sharing',
    ),
    "home.error_summary": (
        'Corrija os campos indicados abaixo.',
        'Please correct the fields marked below.',
    ),
    "home.error_name": (
        'Digite seu nome.',
        'Type your name.',
    ),
    "home.error_document": (
        'Este CPF/CNPJ não é válido: confira os números.',
        'This CPF/CNPJ is not valid: check the digits.',
    ),
    "home.error_document_mismatch": (
        'Este CPF/CNPJ não confere com o cadastrado pela empresa. Confira ou fale com ela.',
        'This CPF/CNPJ does not match the one your provider has on file. Check it or contact them.',
    ),
    "home.error_agree": (
        'Marque a caixa para autorizar.',
        'Tick the box to consent.',
    ),
    "home.accepted_title": (
        'Autorização registrada',
        'Consent recorded',
    ),
    "home.accepted_body": (
        'Obrigado, {name}. Sua autorização foi registrada em {at}.',
        'Thank you, {name}. Your consent was recorded at {at}.',
    ),
    "home.accepted_waits": (
        'O compartilhamento ainda não começou: ele só começa depois que a empresa confirmar que a câmera vê apenas a rua e instalar a placa do programa junto à câmera.',
        "Sharing has not started yet: it starts only after your provider confirms the camera sees only the street and installs the program's sign by the camera.",
    ),
    "home.withdraw_heading": (
        'Para retirar a autorização',
        'To withdraw your consent',
    ),
    "home.withdraw_keep": (
        'Guarde este link. Com ele você retira a autorização a qualquer momento, sem precisar de senha:',
        'Keep this link. With it you can withdraw your consent at any time, no password needed:',
    ),
    "home.receipt_link": (
        'Abrir o comprovante para imprimir',
        'Open the receipt to print',
    ),
    "home.receipt_title": (
        'Comprovante de autorização',
        'Consent receipt',
    ),
    "home.receipt_provider": (
        'Empresa',
        'Provider',
    ),
    "home.receipt_cameras": (
        'Câmeras',
        'Cameras',
    ),
    "home.receipt_accepted": (
        'Autorizado em',
        'Consented at',
    ),
    "home.receipt_term": (
        'Termo',
        'Term',
    ),
    "home.receipt_evidence": (
        'Registro assinado (SHA-256)',
        'Signed record (SHA-256)',
    ),
    "home.receipt_withdraw": (
        'Link de retirada',
        'Withdrawal link',
    ),
    "home.receipt_state": (
        'Situação hoje',
        'State today',
    ),
    "home.state_active": (
        'autorização em vigor',
        'consent in force',
    ),
    "home.state_withdrawn": (
        'autorização retirada',
        'consent withdrawn',
    ),
    "home.print_hint": (
        'Use a opção Imprimir do seu navegador.',
        "Use your browser's Print option.",
    ),
    "home.withdraw_title": (
        'Retirar a autorização',
        'Withdraw your consent',
    ),
    "home.withdraw_body": (
        'Ao confirmar, o COP-BH deixa de receber as imagens e os alertas destas câmeras em até um segundo:',
        'When you confirm, COP-BH stops receiving the images and alerts of these cameras within a second:',
    ),
    "home.withdraw_confirm": (
        'Confirmo: retirar a autorização',
        'I confirm: withdraw my consent',
    ),
    "home.withdraw_nothing": (
        'Não há autorização em vigor para estas câmeras. Nada mais é compartilhado por este link.',
        'There is no consent in force for these cameras. Nothing is shared through this link any more.',
    ),
    "home.withdrawn_title": (
        'Autorização retirada',
        'Consent withdrawn',
    ),
    "home.withdrawn_body": (
        'Pronto. As câmeras abaixo deixaram de ser compartilhadas em {at}:',
        'Done. The cameras below stopped being shared at {at}:',
    ),
    "home.withdrawn_again": (
        'Se mudar de ideia, peça um novo convite à sua empresa de segurança.',
        'If you change your mind, ask your security company for a new invitation.',
    ),
    "home.neutral_title": (
        'Este link não está disponível',
        'This link is not available',
    ),
    "home.neutral_body": (
        'O link pode já ter sido usado, ter expirado ou estar incompleto. Peça um novo convite à sua empresa de segurança.',
        'The link may have been used already, have expired or be incomplete. Ask your security company for a new invitation.',
    ),
    "home.too_many_title": (
        'Muitas tentativas',
        'Too many attempts',
    ),
    "home.too_many_body": (
        'Espere um minuto e tente de novo.',
        'Wait a minute and try again.',
    ),
    "home.expired_form_title": (
        'O formulário expirou',
        'The form has expired',
    ),
    "home.expired_form_body": (
        'Abra o link de novo e envie o formulário outra vez.',
        'Open the link again and send the form once more.',
    ),
    "home.unavailable": (
        'Não foi possível registrar agora. Tente de novo em alguns minutos.',
        'This could not be recorded right now. Try again in a few minutes.',
    ),
}


def add_homeowner_messages() -> None:
    """Put the homeowner pages' words in the catalogue (again is harmless)."""
    CATALOGUE.add(HOMEOWNER_MESSAGES)
