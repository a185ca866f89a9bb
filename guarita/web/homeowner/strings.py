"""The homeowner pages' words, in plain Portuguese (default) and English (by Accept-Language).

Covers: PB-07, BH-03, BH-04, BH-07.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGUAGES", "language", "strings"]

LANGUAGES = ("pt", "en")

_PT: dict[str, str] = {
    "html_lang": "pt-BR",
    "site": "Compartilhamento de câmeras · BH + Segura",
    "invite_title": "Convite para compartilhar suas câmeras com o COP-BH",
    "provider_heading": "Quem está convidando",
    "accredited": "{name} é credenciada no programa BH + Segura ({reference}, desde {date}).",
    "not_accredited": "{name} ainda não é credenciada no programa BH + Segura: nada será compartilhado até que seja.",
    "cameras_heading": "Suas câmeras neste convite",
    "snapshot_alt": "Imagem atual da câmera {camera}, com as áreas privadas cobertas de preto",
    "snapshot_note": "As áreas em preto são privadas e nunca saem daqui.",
    "seen_by": "Quem pode ver: o COP-BH e {agencies}.",
    "seen_by_cop": "Quem pode ver: o COP-BH.",
    "meaning_heading": "O que significa compartilhar",
    "meaning_street": "Só a rua: a calçada, a via e a praça que a câmera vê. O interior da sua casa nunca é compartilhado.",
    "meaning_who": "Quem vê: o Centro Integrado de Operações de Belo Horizonte (COP-BH) e os órgãos cuja área cobre o local da câmera.",
    "meaning_cloud": "Por quanto tempo: as gravações ficam 7 dias em nuvem e depois são apagadas.",
    "meaning_release": "Entrega de imagens: só com as requisições legais que o programa prevê (ordem judicial ou de autoridade competente), sempre registradas.",
    "meaning_withdraw": "Você pode retirar a autorização quando quiser, com um clique.",
    "term_heading": "Termo de adesão",
    "term_version": "Versão {version} · impressão digital (SHA-256) {sha256}",
    "term_binding": "",
    "form_heading": "Sua autorização",
    "name_label": "Seu nome completo",
    "document_label": "CPF ou CNPJ",
    "document_hint": "Só números ou com pontos e traço. Guardamos apenas uma forma cifrada dele.",
    "agree_label": "Li o termo acima e autorizo o compartilhamento das câmeras listadas.",
    "submit": "Autorizar o compartilhamento",
    "error_summary": "Corrija os campos indicados abaixo.",
    "error_name": "Digite seu nome.",
    "error_document": "Este CPF/CNPJ não é válido: confira os números.",
    "error_document_mismatch": "Este CPF/CNPJ não confere com o cadastrado pela empresa. Confira ou fale com ela.",
    "error_agree": "Marque a caixa para autorizar.",
    "accepted_title": "Autorização registrada",
    "accepted_body": "Obrigado, {name}. Sua autorização foi registrada em {at}.",
    "accepted_waits": "O compartilhamento ainda não começou: ele só começa depois que a empresa confirmar que a câmera vê apenas a rua e instalar a placa do programa junto à câmera.",
    "withdraw_heading": "Para retirar a autorização",
    "withdraw_keep": "Guarde este link. Com ele você retira a autorização a qualquer momento, sem precisar de senha:",
    "receipt_link": "Abrir o comprovante para imprimir",
    "receipt_title": "Comprovante de autorização",
    "receipt_provider": "Empresa",
    "receipt_cameras": "Câmeras",
    "receipt_accepted": "Autorizado em",
    "receipt_term": "Termo",
    "receipt_evidence": "Registro assinado (SHA-256)",
    "receipt_withdraw": "Link de retirada",
    "receipt_state": "Situação hoje",
    "state_active": "autorização em vigor",
    "state_withdrawn": "autorização retirada",
    "print_hint": "Use a opção Imprimir do seu navegador.",
    "withdraw_title": "Retirar a autorização",
    "withdraw_body": "Ao confirmar, o COP-BH deixa de receber as imagens e os alertas destas câmeras em até um segundo:",
    "withdraw_confirm": "Confirmo: retirar a autorização",
    "withdraw_nothing": "Não há autorização em vigor para estas câmeras. Nada mais é compartilhado por este link.",
    "withdrawn_title": "Autorização retirada",
    "withdrawn_body": "Pronto. As câmeras abaixo deixaram de ser compartilhadas em {at}:",
    "withdrawn_again": "Se mudar de ideia, peça um novo convite à sua empresa de segurança.",
    "neutral_title": "Este link não está disponível",
    "neutral_body": "O link pode já ter sido usado, ter expirado ou estar incompleto. Peça um novo convite à sua empresa de segurança.",
    "too_many_title": "Muitas tentativas",
    "too_many_body": "Espere um minuto e tente de novo.",
    "expired_form_title": "O formulário expirou",
    "expired_form_body": "Abra o link de novo e envie o formulário outra vez.",
    "unavailable": "Não foi possível registrar agora. Tente de novo em alguns minutos.",
}

_EN: dict[str, str] = {
    "html_lang": "en",
    "site": "Camera sharing · BH + Segura",
    "invite_title": "Invitation to share your cameras with COP-BH",
    "provider_heading": "Who is inviting you",
    "accredited": "{name} is accredited in the BH + Segura program ({reference}, since {date}).",
    "not_accredited": "{name} is not yet accredited in the BH + Segura program: nothing is shared until it is.",
    "cameras_heading": "Your cameras in this invitation",
    "snapshot_alt": "Current picture of camera {camera}, with private areas blacked out",
    "snapshot_note": "The black areas are private and never leave here.",
    "seen_by": "Who can see it: COP-BH and {agencies}.",
    "seen_by_cop": "Who can see it: COP-BH.",
    "meaning_heading": "What sharing means",
    "meaning_street": "The street only: the pavement, road and square the camera sees. The inside of your home is never shared.",
    "meaning_who": "Who sees it: Belo Horizonte's operations centre (COP-BH) and the agencies whose area covers the camera's place.",
    "meaning_cloud": "For how long: recordings are kept 7 days in the cloud, then deleted.",
    "meaning_release": "Handing images over: only on the legal requests the program lists (a court order or a competent authority's request), always recorded.",
    "meaning_withdraw": "You can withdraw your consent at any time, with one click.",
    "term_heading": "Consent term",
    "term_version": "Version {version} · fingerprint (SHA-256) {sha256}",
    "term_binding": "The binding text of the term is in Portuguese.",
    "form_heading": "Your consent",
    "name_label": "Your full name",
    "document_label": "CPF or CNPJ",
    "document_hint": "Digits only, or with dots and dash. We keep only an encrypted form of it.",
    "agree_label": "I have read the term above and I consent to sharing the cameras listed.",
    "submit": "Consent to sharing",
    "error_summary": "Please correct the fields marked below.",
    "error_name": "Type your name.",
    "error_document": "This CPF/CNPJ is not valid: check the digits.",
    "error_document_mismatch": "This CPF/CNPJ does not match the one your provider has on file. Check it or contact them.",
    "error_agree": "Tick the box to consent.",
    "accepted_title": "Consent recorded",
    "accepted_body": "Thank you, {name}. Your consent was recorded at {at}.",
    "accepted_waits": "Sharing has not started yet: it starts only after your provider confirms the camera sees only the street and installs the program's sign by the camera.",
    "withdraw_heading": "To withdraw your consent",
    "withdraw_keep": "Keep this link. With it you can withdraw your consent at any time, no password needed:",
    "receipt_link": "Open the receipt to print",
    "receipt_title": "Consent receipt",
    "receipt_provider": "Provider",
    "receipt_cameras": "Cameras",
    "receipt_accepted": "Consented at",
    "receipt_term": "Term",
    "receipt_evidence": "Signed record (SHA-256)",
    "receipt_withdraw": "Withdrawal link",
    "receipt_state": "State today",
    "state_active": "consent in force",
    "state_withdrawn": "consent withdrawn",
    "print_hint": "Use your browser's Print option.",
    "withdraw_title": "Withdraw your consent",
    "withdraw_body": "When you confirm, COP-BH stops receiving the images and alerts of these cameras within a second:",
    "withdraw_confirm": "I confirm: withdraw my consent",
    "withdraw_nothing": "There is no consent in force for these cameras. Nothing is shared through this link any more.",
    "withdrawn_title": "Consent withdrawn",
    "withdrawn_body": "Done. The cameras below stopped being shared at {at}:",
    "withdrawn_again": "If you change your mind, ask your security company for a new invitation.",
    "neutral_title": "This link is not available",
    "neutral_body": "The link may have been used already, have expired or be incomplete. Ask your security company for a new invitation.",
    "too_many_title": "Too many attempts",
    "too_many_body": "Wait a minute and try again.",
    "expired_form_title": "The form has expired",
    "expired_form_body": "Open the link again and send the form once more.",
    "unavailable": "This could not be recorded right now. Try again in a few minutes.",
}

_CATALOGUE: dict[str, Mapping[str, str]] = {"pt": _PT, "en": _EN}


def language(accept_language: str) -> str:
    """``pt`` or ``en``: the first of the two the browser prefers (by q-value), ``pt`` otherwise."""
    best, best_q = "pt", 0.0
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        quality -= position * 1e-6  # earlier wins a tie
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    return best


def strings(lang: str) -> Mapping[str, str]:
    """The words for ``lang`` (``pt`` when unknown)."""
    return _CATALOGUE.get(lang, _PT)
