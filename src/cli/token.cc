// keyferry token init / token info.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "byok/export.h"
#include "byok/pkcs11_export_session.h"
#include "cli/command.h"
#include "cli/hsm_context.h"

namespace keyferry::cli {
namespace {

absl::Status RunTokenInit(const Args& args) {
  ASSIGN_OR_RETURN(HsmTarget target, ResolveTarget(args));
  std::string label = args.Get("label").value_or(
      target.token_label.value_or(kDefaultTokenLabel));
  ASSIGN_OR_RETURN(auto module,
                   hsm::Module::Load(target.module_path, target.load));
  if (module->FindSlotByTokenLabel(label).ok()) {
    return absl::AlreadyExistsError(absl::StrCat("a token labelled '", label,
                                                 "' already exists in ",
                                                 target.module_path));
  }
  ASSIGN_OR_RETURN(hsm::SlotId slot, module->FindFreeSlot());
  ASSIGN_OR_RETURN(SecretBytes so_pin,
                   ReadSecretFromEnvOrPrompt(kDefaultSoPinEnv, "SO PIN"));
  ASSIGN_OR_RETURN(SecretBytes pin,
                   ReadSecretFromEnvOrPrompt(target.pin_env, "user PIN"));
  RETURN_IF_ERROR(module->InitToken(slot, so_pin, label));
  // SoftHSM moves the token to a new slot on initialization: find it again.
  ASSIGN_OR_RETURN(slot, module->FindSlotByTokenLabel(label));
  {
    ASSIGN_OR_RETURN(auto so,
                     hsm::Session::OpenSecurityOfficer(*module, slot, so_pin));
    RETURN_IF_ERROR(so->InitUserPin(pin));
  }
  std::printf("initialized token '%s' in %s\n", label.c_str(),
              target.module_path.c_str());
  return absl::OkStatus();
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }

absl::Status RunTokenInfo(const Args& args) {
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  std::string out = absl::StrCat(
      "module:        ", h.target.module_path, "\n",
      "library:       ", h.module->description(), "\n",
      "token:         ", h.token.label, "\n", "slot:          ", h.slot, "\n",
      "manufacturer:  ", h.token.manufacturer, "\n",
      "model:         ", h.token.model, "\n", "serial:        ", h.token.serial,
      "\n", "firmware:      ", h.token.firmware, "\n", "mechanisms (BYOK):\n");
  for (uint64_t m :
       {byok::kCkmRsaAesKeyWrap, byok::kCkmRsaPkcsOaep, byok::kCkmAesKeyWrapPad,
        byok::kCkmAesKeyWrapKwp, uint64_t{0x2109}}) {
    auto info = h.module->GetMechanism(h.slot, m);
    std::string name = hsm::MechanismName(m);
    if (name.size() < 26) name.resize(26, ' ');
    if (!info.ok()) {
      absl::StrAppend(&out, "  ", name, " not offered\n");
    } else {
      absl::StrAppend(&out, "  ", name, " wrap=", YesNo(info->wrap),
                      " unwrap=", YesNo(info->unwrap), "\n");
    }
  }
  std::optional<uint64_t> kwp;
  if (auto m = args.Get("kwp-mechanism")) {
    ASSIGN_OR_RETURN(kwp, ParseMechanismNumber(*m));
  }
  byok::Pkcs11ExportSession token(*h.session, "");
  ASSIGN_OR_RETURN(byok::ProbeReport r, byok::RunProbes(token, kwp));
  absl::StrAppend(&out, "known-answer probes:\n");
  absl::StrAppend(&out, "  CKM_RSA_AES_KEY_WRAP: ",
                  !r.native_listed ? "not offered"
                  : *r.native_ok   ? "PASS"
                                 : absl::StrCat("FAIL (", r.native_detail, ")"),
                  "\n");
  absl::StrAppend(&out, "  RSA-OAEP SHA-1:       ", r.oaep_ok ? "PASS" : "FAIL",
                  " (", r.oaep_detail, ")\n");
  const byok::ExportSession::KwpProbe& p = r.kwp.probe;
  std::string kwp_verdict = !r.kwp.listed                ? "not offered"
                            : (p.wrap_ok && p.unwrap_ok) ? "PASS"
                            : p.padding_defect
                                ? "DEFECT (wrap zero-pads; unwrap correct)"
                                : "FAIL";
  absl::StrAppend(&out, "  RFC 5649 KWP (", hsm::MechanismName(r.kwp.mechanism),
                  "): ", kwp_verdict, " (", p.detail, ")\n");
  for (const std::string& other : r.kwp.others) {
    absl::StrAppend(&out, "    not chosen: ", other, "\n");
  }
  std::string route;
  if (r.native_ok.value_or(false)) {
    route = "native CKM_RSA_AES_KEY_WRAP";
  } else if (r.oaep_ok && p.unwrap_ok && p.wrap_ok) {
    route = "two-step (OAEP-SHA1 + RFC 5649 in the token), every target type";
  } else if (r.oaep_ok && p.padding_defect) {
    route =
        "two-step, limited: AES targets and EC keys whose PKCS#8 length is "
        "a multiple of 8; RSA refused (KWP padding defect)";
  } else {
    route = "none: this token cannot produce a correct .byok blob";
  }
  absl::StrAppend(&out, "export route:  ", route, "\n");
  std::fputs(out.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

std::vector<OptionSpec> HsmOptions() {
  return {
      {"hsm", false,
       "PKCS#11 URI (RFC 7512) of the token, e.g. "
       "'pkcs11:token=x?module-path=/lib.so'"},
      {"module", false, "PKCS#11 module path (default: SoftHSMv2)"},
      {"module-init", false,
       "the module's initialization string (C_Initialize pReserved), for "
       "modules that need one, e.g. NSS softokn: \"configdir='sql:DIR' "
       "certPrefix='' keyPrefix='' secmod='secmod.db'\""},
      {"token", false, "token label"},
      {"pin-env", false,
       "environment variable holding the user PIN (default KEYFERRY_PIN)"},
  };
}

std::vector<Command> TokenCommands() {
  auto init_opts = HsmOptions();
  init_opts.push_back(
      {"label", false, "label of the new token (default keyferry)"});
  auto info_opts = HsmOptions();
  info_opts.push_back(
      {"kwp-mechanism", false,
       "RFC 5649 mechanism to probe (default: each of 0x210A and 0x210B "
       "the token offers; the first that passes is used)"});
  return {
      {"token init",
       "initialize a token (keyferry's own SoftHSMv2 token by default)",
       init_opts, "", RunTokenInit},
      {"token info",
       "show the token, its BYOK mechanisms and the known-answer probes",
       info_opts, "", RunTokenInfo},
  };
}

}  // namespace keyferry::cli
