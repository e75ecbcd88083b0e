"""实名认证: real-name verification through backend plugins, with name and ID number encrypted at rest."""
